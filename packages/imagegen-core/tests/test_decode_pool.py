"""Decoding in worker processes: the same pixels and errors as in a thread, and no leftovers.

Most tests drive a private pool of one worker that takes every image
(``min_process_pixels=0``), so that small, fast images still cross the
process boundary. Nothing here asserts a duration: a time limit is tested
with a worker that never answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import pytest
from PIL import Image

from imagegen_core import _decode_pool as pool_module
from imagegen_core._decode_pool import _WORKER_COMMAND, _DecodePool
from imagegen_core._decoding import PIXEL_MODES, DecodedImage, decode_image
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core.pixels import (
    MAX_DECODE_WORKERS,
    decode_off_loop,
    decode_workers,
    set_decode_workers,
    start_decode_workers,
    stop_decode_workers,
)

from .test_decoding import encode, png_header_only

DEFAULTS: dict[str, Any] = {"mode": "RGB", "max_pixels": 40_000_000, "background": (255, 255, 255)}

HANGING_WORKER = (
    sys.executable,
    "-c",
    "import os, time; from imagegen_core._decode_protocol import send; "
    "send(1, {'ready': os.getpid()}); time.sleep(120)",
)
"""A worker that says it is ready, then never answers a request."""


def submit_to(pool: _DecodePool, data: bytes, **options: Any) -> Future[DecodedImage]:
    """Queue one decode with :data:`DEFAULTS` (overridden by ``options``)."""
    arguments = DEFAULTS | options
    return pool.submit(data, arguments["mode"], arguments["max_pixels"], arguments["background"])


def decode_in(pool: _DecodePool, data: bytes, **options: Any) -> DecodedImage:
    return submit_to(pool, data, **options).result()


def refuse_thread_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the in-process path fail, so a passing decode proves the worker did it."""

    def in_thread(*args: object, **kwargs: object) -> DecodedImage:
        raise AssertionError("decoded in the thread, not in the worker")

    monkeypatch.setattr(pool_module, "decode_image", in_thread)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def segment_exists(name: str) -> bool:
    try:
        segment = SharedMemory(name)
    except FileNotFoundError:
        return False
    segment.close()
    return True


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[_DecodePool]:
    pool = _DecodePool(1, min_process_pixels=0)
    pool.start(wait=True)
    yield pool
    pool.close()


@pytest.fixture
def fresh_pool() -> Iterator[Callable[..., _DecodePool]]:
    made: list[_DecodePool] = []

    def make(workers: int = 1, **options: Any) -> _DecodePool:
        pool = _DecodePool(workers, min_process_pixels=0, **options)
        made.append(pool)
        pool.start(wait=True)  # else the first images decode in the thread meanwhile
        return pool

    yield make
    for pool in made:
        pool.close()


@pytest.fixture
def shared_setting() -> Iterator[None]:
    """Leave the process-wide pool as the other tests expect it."""
    yield
    set_decode_workers(None)
    stop_decode_workers()


def photo(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    image = Image.effect_noise(size, 60).convert("RGB")
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize(size))
    return image


@pytest.mark.parametrize("mode", sorted(PIXEL_MODES))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_worker_gives_the_very_pixels_of_a_thread(
    worker_pool: _DecodePool, monkeypatch: pytest.MonkeyPatch, mode: str, fmt: str
) -> None:
    source = photo((67, 41), "RGB" if fmt == "JPEG" else "RGBA")
    data = encode(source, fmt)
    expected = decode_image(data, mode=mode)
    refuse_thread_decodes(monkeypatch)
    decoded = decode_in(worker_pool, data, mode=mode)
    assert type(decoded.pixels) is bytes
    assert decoded == expected


def test_transparency_is_flattened_onto_the_chosen_background_in_a_worker(
    worker_pool: _DecodePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(photo((32, 32), "RGBA"))
    expected = decode_image(data, background=(0, 200, 0))
    assert expected != decode_image(data)
    refuse_thread_decodes(monkeypatch)
    assert decode_in(worker_pool, data, background=(0, 200, 0)) == expected


def test_an_image_larger_than_the_segment_grows_it(
    worker_pool: _DecodePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(photo((1500, 1500), "RGBA"))  # 9 MB of RGBA pixels: over the first 4 MiB
    expected = decode_image(data, mode="RGBA")
    refuse_thread_decodes(monkeypatch)
    assert decode_in(worker_pool, data, mode="RGBA") == expected
    assert decode_in(worker_pool, encode(photo((8, 8)))).size == (8, 8)


def error_of(decode: Callable[[], object]) -> ImageGenError:
    with pytest.raises(ImageGenError) as caught:
        decode()
    return caught.value


@pytest.mark.parametrize(
    ("data", "max_pixels"),
    [
        (png_header_only(20_000, 20_000), 10**12),  # Pillow's own bomb limit
        (png_header_only(5_000, 5_000), 1_000_000),  # our pixel cap
        (b"<html>503 Service Unavailable</html>", 40_000_000),  # not an image
        (encode(photo((64, 64)))[:600], 40_000_000),  # truncated
    ],
    ids=["bomb", "over-the-cap", "undecodable", "truncated"],
)
def test_errors_cross_the_boundary_with_the_same_kind_and_message(
    worker_pool: _DecodePool, monkeypatch: pytest.MonkeyPatch, data: bytes, max_pixels: int
) -> None:
    in_thread = error_of(lambda: decode_image(data, max_pixels=max_pixels))
    refuse_thread_decodes(monkeypatch)
    in_worker = error_of(lambda: decode_in(worker_pool, data, max_pixels=max_pixels))
    assert type(in_worker) is ImageGenError
    assert (in_worker.kind, in_worker.message, in_worker.retryable) == (
        in_thread.kind,
        in_thread.message,
        in_thread.retryable,
    )


def test_a_worker_killed_mid_decode_fails_that_image_only(
    fresh_pool: Callable[..., _DecodePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = fresh_pool()
    # Small enough to fit a pipe's buffer: sent to a stopped worker without blocking.
    data = encode(photo((60, 40)))
    first = decode_in(pool, data)
    (victim,) = pool.pids
    real_send = pool_module.send
    kills = []

    def send_then_kill(fd: int, header: Any, body: bytes = b"") -> None:
        if kills:
            real_send(fd, header, body)
            return
        # Stopped before it gets the request, killed once it has it: it can
        # never answer first (a decode this small takes under a millisecond,
        # less than a SIGKILL sent after the request may take to land).
        kills.append(victim)
        os.kill(victim, signal.SIGSTOP)
        real_send(fd, header, body)
        os.kill(victim, signal.SIGKILL)

    monkeypatch.setattr(pool_module, "send", send_then_kill)
    error = error_of(lambda: decode_in(pool, data))
    assert error.kind is ErrorKind.SERVER
    assert not error.retryable
    assert "exited while decoding this image" in error.message
    assert gone(victim)
    assert pool.start(wait=True) == 1  # its replacement
    refuse_thread_decodes(monkeypatch)
    assert decode_in(pool, data) == first
    assert pool.pids
    assert pool.pids != [victim]


def test_a_worker_over_the_time_limit_is_killed_and_replaced(
    fresh_pool: Callable[..., _DecodePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = fresh_pool(time_limit=0.2, command=HANGING_WORKER)
    data = encode(photo((30, 20)))
    (hung,) = pool.pids
    error = error_of(lambda: decode_in(pool, data))
    assert error.kind is ErrorKind.SERVER
    assert not error.retryable
    assert "longer than the 0.2 s limit" in error.message
    assert gone(hung)
    # The next image gets a new worker (a real one, this time).
    pool._workers[0]._command = _WORKER_COMMAND
    pool.time_limit = 60.0
    assert pool.start(wait=True) == 1
    refuse_thread_decodes(monkeypatch)
    assert decode_in(pool, data).size == (30, 20)
    assert pool.pids
    assert pool.pids != [hung]


async def test_queued_decodes_of_cancelled_callers_are_skipped(
    fresh_pool: Callable[..., _DecodePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = fresh_pool()
    data = encode(photo((40, 30)))
    await asyncio.wrap_future(submit_to(pool, data))
    entered, release = threading.Event(), threading.Event()
    real_send = pool_module.send
    sent: list[int] = []

    def held_send(fd: int, header: Any, body: bytes = b"") -> None:
        sent.append(len(body))
        if len(sent) == 1:
            entered.set()
            release.wait()
        real_send(fd, header, body)

    monkeypatch.setattr(pool_module, "send", held_send)

    def start() -> asyncio.Future[DecodedImage]:
        return asyncio.wrap_future(submit_to(pool, data))

    running = start()
    await asyncio.to_thread(entered.wait)
    submitted = [submit_to(pool, data) for _ in range(3)]
    for future in [asyncio.wrap_future(job) for job in submitted]:
        future.cancel()
    for _ in range(10):  # the caller's cancel reaches the queue in a loop turn's callback
        await asyncio.sleep(0)
    assert all(job.cancelled() for job in submitted)
    release.set()
    assert (await running).size == (40, 30)
    assert (await start()).size == (40, 30)
    assert len(sent) == 2  # the running one and the last: the cancelled three never reached it


async def test_a_caller_cancelled_mid_decode_leaves_the_worker_usable(
    fresh_pool: Callable[..., _DecodePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = fresh_pool()
    data = encode(photo((40, 30)))
    await asyncio.wrap_future(submit_to(pool, data))
    (worker_pid,) = pool.pids
    entered, release = threading.Event(), threading.Event()
    real_send = pool_module.send

    def send_and_hold(fd: int, header: Any, body: bytes = b"") -> None:
        real_send(fd, header, body)
        if not entered.is_set():  # the worker decodes while its caller goes away
            entered.set()
            release.wait()

    monkeypatch.setattr(pool_module, "send", send_and_hold)
    task = asyncio.ensure_future(asyncio.wrap_future(submit_to(pool, data)))
    await asyncio.to_thread(entered.wait)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    other = encode(photo((50, 10)))
    decoded = await asyncio.wrap_future(submit_to(pool, other))
    assert decoded == decode_image(other)
    assert pool.pids == [worker_pid]


def test_closing_leaves_no_process_and_no_segment(fresh_pool: Callable[..., _DecodePool]) -> None:
    pool = fresh_pool(workers=2)
    assert pool.start() == 2
    decode_in(pool, encode(photo((20, 20))))
    pids, names = pool.pids, pool.segment_names
    assert len(pids) == 2
    assert len(names) == 2
    assert all(segment_exists(name) for name in names)
    pool.close()
    assert all(gone(pid) for pid in pids)
    assert not any(segment_exists(name) for name in names)
    assert pool.pids == []
    assert pool.segment_names == []


def test_interpreter_exit_stops_the_workers_and_frees_their_memory() -> None:
    script = textwrap.dedent(
        """
        import asyncio, io
        from PIL import Image
        from imagegen_core import _decode_pool
        from imagegen_core.pixels import decode_off_loop, set_decode_workers

        set_decode_workers(1, min_pixels=0)
        buffer = io.BytesIO()
        Image.new("RGB", (9, 9), (1, 2, 3)).save(buffer, "PNG")
        asyncio.run(decode_off_loop(buffer.getvalue()))
        pool = _decode_pool._shared
        print(*pool.pids, *pool.segment_names)
        """
    )
    finished = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    pid, name = finished.stdout.split()
    assert gone(int(pid))
    assert not segment_exists(name)
    assert "leaked" not in finished.stderr
    assert finished.stderr == ""


@pytest.mark.parametrize(
    "breakage",
    ["worker exits at start", "no subprocesses", "no shared memory", "frozen app"],
)
def test_workers_that_cannot_start_fall_back_to_threads_with_one_warning(
    fresh_pool: Callable[..., _DecodePool],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    breakage: str,
) -> None:
    command = _WORKER_COMMAND
    if breakage == "worker exits at start":
        command = (sys.executable, "-c", "raise SystemExit(3)")
    elif breakage == "no subprocesses":

        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(pool_module.subprocess, "Popen", refuse)
    elif breakage == "no shared memory":

        def no_shm(*args: object, **kwargs: object) -> None:
            raise FileNotFoundError(2, "No such file or directory: '/dev/shm'")

        monkeypatch.setattr(pool_module, "SharedMemory", no_shm)
    else:
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    data = encode(photo((33, 22)))
    with caplog.at_level(logging.WARNING, logger="imagegen"):
        pool = fresh_pool(workers=2, command=command)
        assert [decode_in(pool, data) for _ in range(3)] == [decode_image(data)] * 3
        assert pool.start() == 0
    warnings = [r for r in caplog.records if "decode worker processes cannot start" in r.message]
    assert len(warnings) == 1
    assert pool.workers == 0
    assert pool.pids == []


def test_small_images_decode_in_the_thread_without_starting_a_worker() -> None:
    pool = _DecodePool(1, min_process_pixels=100 * 100)
    try:
        assert decode_in(pool, encode(photo((99, 100)))).size == (99, 100)
        assert pool.pids == []
        assert decode_in(pool, encode(photo((100, 100)))).size == (100, 100)
        assert len(pool.pids) == 1
    finally:
        pool.close()


def test_the_default_count_follows_the_usable_cpus_up_to_a_cap(
    monkeypatch: pytest.MonkeyPatch, shared_setting: None
) -> None:
    stop_decode_workers()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert decode_workers() == MAX_DECODE_WORKERS
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert decode_workers() == 1


async def test_zero_workers_means_threads_only(shared_setting: None) -> None:
    set_decode_workers(0, min_pixels=0)
    assert decode_workers() == 0
    assert start_decode_workers() == 0
    data = encode(photo((64, 64)))
    assert await decode_off_loop(data) == decode_image(data)
    assert pool_module._shared is not None
    assert pool_module._shared.pids == []


async def test_the_setting_replaces_running_workers(shared_setting: None) -> None:
    set_decode_workers(1, min_pixels=0)
    assert start_decode_workers() == 1
    data = encode(photo((16, 16)))
    await decode_off_loop(data)
    before = pool_module._shared
    assert before is not None
    (old,) = before.pids
    set_decode_workers(2, min_pixels=0)
    assert gone(old)
    assert await decode_off_loop(data) == decode_image(data)
    assert decode_workers() == 2


def test_bad_settings_are_refused(shared_setting: None) -> None:
    with pytest.raises(ValueError, match="count"):
        set_decode_workers(-1)
    with pytest.raises(ValueError, match="min_pixels"):
        set_decode_workers(1, min_pixels=-5)


async def test_decode_off_loop_refuses_programming_errors_before_queueing() -> None:
    with pytest.raises(ValueError, match="unsupported pixel mode"):
        await decode_off_loop(b"", mode="CMYK")
    with pytest.raises(ValueError, match="max_pixels"):
        await decode_off_loop(b"", max_pixels=0)


def test_a_large_webp_header_is_read_without_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    from imagegen_core._decoding import declared_pixels

    data = encode(photo((640, 480)), "WEBP")

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("Image.open was called")

    monkeypatch.setattr(Image, "open", no_open)
    assert declared_pixels(data) == 640 * 480


def test_an_image_arriving_while_its_worker_starts_decodes_in_the_thread() -> None:
    pool = _DecodePool(
        1, min_process_pixels=0, command=(sys.executable, "-c", "import time; time.sleep(120)")
    )
    try:
        data = encode(photo((21, 13)))
        assert decode_in(pool, data) == decode_image(data)
        assert len(pool.pids) == 1  # started, and still starting
    finally:
        pool.close()


def environment_of(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as environ:
        entries = environ.read().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in entries if b"=" in entry)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_keep_decoded_buffers_on_the_heap(worker_pool: _DecodePool) -> None:
    # Without these glibc settings each decode's buffers were fresh mmaps and
    # a 1 MP WebP decoded a third slower in a worker than in a thread.
    (pid,) = worker_pool.pids
    environment = environment_of(pid)
    assert environment["MALLOC_MMAP_THRESHOLD_"] == str(32 * 1024 * 1024)
    assert environment["MALLOC_TRIM_THRESHOLD_"] == str(64 * 1024 * 1024)


def test_the_apps_own_allocator_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    environment = pool_module._worker_environment()
    assert environment["MALLOC_MMAP_THRESHOLD_"] == "131072"
    assert environment["MALLOC_TRIM_THRESHOLD_"] == str(64 * 1024 * 1024)
