"""Decoding off the event loop: large images in worker processes, small ones in a thread.

Pillow holds the GIL for long stretches of a WebP decode, so a decode in any
thread of the app's process delays its event loop: one decode thread stalled
a 5 ms ticker 8 to 39 ms, several threads more (docs/performance.md has the
measurements). A decode in another process holds another GIL. So an image
whose header declares at least :data:`PROCESS_MIN_PIXELS` pixels is decoded
by a worker process (:mod:`imagegen_core._decode_worker`), which writes the
pixels into a shared-memory segment of its own (created and owned here,
grown when an image needs more) and replies on a pipe; a dispatch thread
reads the header, drives the pipe and copies the pixels out once into
``bytes``. A thread rather than the loop's own pipe readers: the header read
and the 3 MB copy would otherwise cost the loop's CPU, which the loop's
budget counts. Smaller images decode in this process, one at a time, where a
process round trip would cost more than the decode.

Workers: one per CPU this process may use, at most :data:`MAX_DECODE_WORKERS`,
each with one dispatch thread that sends it one image at a time; they start
on the first large decode, or earlier with :func:`start_decode_workers` (the
Pipecat service calls it when its pipeline starts), and stop at exit or with
:func:`stop_decode_workers`. A large image that arrives while its worker is
still starting (importing Pillow takes about a second) decodes in the thread
rather than waiting. Workers are started with ``subprocess``, never
multiprocessing's spawn or forkserver, which re-import the app's
``__main__``. A worker that dies while decoding (a crashing image) or takes
longer than :data:`DECODE_TIME_LIMIT` fails that image only, with a
``server`` :class:`~imagegen_core.ImageGenError`, and is replaced on the next
image. Where workers cannot start (a frozen app, no shared memory, a sandbox
refusing subprocesses, Windows, where ``select`` cannot wait on a pipe) the
pool logs one warning and decodes every image in its thread: an image never
fails because a worker could not start.

A caller cancelled while its image waits in the queue takes it out of the
queue; one cancelled mid-decode lets the worker finish (its result is
dropped), so no worker is left mid-message.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.shared_memory import SharedMemory
from typing import Any

from imagegen_core._decode_protocol import WorkerGone, WorkerTimedOut, receive, send
from imagegen_core._decoding import (
    DEFAULT_BACKGROUND,
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    channels_of,
    check_decode_arguments,
    declared_pixels,
    decode_image,
)
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._sizes import ImageSize

__all__ = [
    "DECODE_TIME_LIMIT",
    "MAX_DECODE_WORKERS",
    "PROCESS_MIN_PIXELS",
    "decode_off_loop",
    "decode_workers",
    "set_decode_workers",
    "start_decode_workers",
    "stop_decode_workers",
]

_log = logging.getLogger("imagegen")

MAX_DECODE_WORKERS = 4
"""Most worker processes started by default, however many CPUs there are:
past four, a bot server's decodes are rarely the bottleneck, and each worker
holds an interpreter with Pillow (about 40 MB)."""

DECODE_TIME_LIMIT = 30.0
"""Seconds a worker may take over one image before it is killed and the image
fails. A 40-megapixel image (the default cap) decodes in well under 5 s on a
loaded core; a decode still running after 30 s is a hostile or broken file."""

PROCESS_MIN_PIXELS = 100_000
"""Images with fewer declared pixels (about 316x316) decode in this process's
thread. Measured one image at a time with ``benchmarks/decode_options.py``
(docs/performance.md): a 256x256 WebP decodes in the thread in 2.4 to 2.8 ms
and stalls the loop less than a worker's round trip does (which is slower
for it too), while a 384x384 one takes 6.5 ms in the thread, over the 3 ms
the loop can give; the line sits between them."""

_START_TIMEOUT = 60.0
"""Seconds a new worker may take to import Pillow and the core and say it is
ready: about one on an idle machine, several on a loaded one."""

_STOP_TIMEOUT = 5.0
"""Seconds a worker gets to exit once its standard input closes, before it is killed."""

_FIRST_SEGMENT = 4 * 1024 * 1024
"""Bytes of a worker's first segment: a 1024x1024 RGBA image."""

_WORKER_COMMAND = (sys.executable, "-P", "-m", "imagegen_core._decode_worker")
"""``-P``: do not put the working directory on the worker's path."""

_WORKER_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": 32 * 1024 * 1024,
    "MALLOC_TRIM_THRESHOLD_": 64 * 1024 * 1024,
}
"""glibc allocator settings for the workers (other C libraries ignore them).

A single-threaded process gets each buffer of a few megabytes (a decoded
image) as a fresh ``mmap`` and returns it on free, so every decode faults its
pages in again: a 1 MP WebP took 28 to 34 ms in a worker (or the main thread)
against 20 ms in a thread of a multi-threaded process. Served from the heap
and kept there (up to 64 MiB idle per worker), the worker decodes it in 20 to
23 ms (``benchmarks/decode_options.py``, docs/performance.md). Values the app
set in its environment win."""


def _worker_environment() -> dict[str, str]:
    return {**{name: str(value) for name, value in _WORKER_MALLOC.items()}, **os.environ}


class _CannotStart(Exception):
    """A worker process could not be started here; the pool falls back to threads."""


class _Worker:
    """One worker process and its segment, driven by one dispatch thread at a time."""

    def __init__(self, command: tuple[str, ...]) -> None:
        self._command = command
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._started_at = 0.0
        self._segment: SharedMemory | None = None

    @property
    def pid(self) -> int | None:
        """The running process's id, if one is running."""
        return self._process.pid if self._process is not None else None

    @property
    def segment_name(self) -> str | None:
        """The shared-memory segment's name, while the worker holds one."""
        return self._segment.name if self._segment is not None else None

    def start(self) -> None:
        """Start the process (without waiting for it to be ready), if it is not running.

        Raises:
            _CannotStart: This platform, app or sandbox cannot run a worker.
        """
        if self._process is not None:
            return
        if getattr(sys, "frozen", False):
            raise _CannotStart("a frozen app's interpreter cannot run a module with -m")
        if sys.platform == "win32":
            raise _CannotStart("select() cannot wait on a pipe on Windows")
        try:
            if self._segment is None:
                self._segment = SharedMemory(create=True, size=_FIRST_SEGMENT)
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                env=_worker_environment(),
            )
        except OSError as exc:
            raise _CannotStart(f"{type(exc).__name__}: {exc}") from None
        self._ready = False
        self._started_at = time.monotonic()

    def is_ready(self, timeout: float = 0.0) -> bool:
        """Whether the started process has said it is ready, waiting up to ``timeout`` seconds.

        Raises:
            _CannotStart: The process exited during its start-up, or has
                taken longer than ``_START_TIMEOUT`` over it.
        """
        if self._ready:
            return True
        if self._process is None:
            return False
        _, replies = self._pipes()
        remaining = _START_TIMEOUT - (time.monotonic() - self._started_at)
        if not select.select([replies], [], [], max(0.0, min(timeout, remaining)))[0]:
            if remaining > timeout:
                return False  # still within its start-up time
            self._end_process(kill=True)
            raise _CannotStart(f"the decode worker was not ready within {_START_TIMEOUT:g} s")
        try:
            receive(replies, time.monotonic() + _START_TIMEOUT)
        except (WorkerGone, WorkerTimedOut):
            status = self._end_process(kill=True)
            raise _CannotStart(
                f"the decode worker did not start ({' '.join(self._command)!r} "
                f"exited with status {status})"
            ) from None
        self._ready = True
        return True

    def decode(
        self, data: bytes, options: dict[str, Any], needed: int, time_limit: float
    ) -> DecodedImage:
        """Decode ``data`` in the ready worker; ``needed`` is the pixel bytes the header promises.

        Raises:
            ImageGenError: What :func:`decode_image` raised in the worker, or
                ``server`` when the worker died or overran ``time_limit``.
        """
        self._grow(needed)
        deadline = time.monotonic() + time_limit
        while True:
            reply = self._exchange(data, options, deadline, time_limit)
            if "need" in reply:  # the header undersold the image
                self._grow(int(reply["need"]))
                continue
            if "error" in reply:
                error = reply["error"]
                raise ImageGenError(
                    error["message"], kind=ErrorKind(error["kind"]), retryable=error["retryable"]
                )
            return self._collect(reply)

    def stop(self) -> None:
        """Stop the process (close its input; kill it if it lingers) and free the segment."""
        self._end_process(kill=False)
        if self._segment is not None:
            self._segment.close()
            self._segment.unlink()
            self._segment = None

    def _pipes(self) -> tuple[int, int]:
        process = self._process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        return process.stdin.fileno(), process.stdout.fileno()

    def _exchange(
        self, data: bytes, options: dict[str, Any], deadline: float, time_limit: float
    ) -> dict[str, Any]:
        assert self._segment is not None
        requests, replies = self._pipes()
        try:
            send(requests, {"segment": self._segment.name, **options}, data)
            reply, _ = receive(replies, deadline)
        except WorkerGone:
            status = self._end_process(kill=True)
            raise ImageGenError(
                f"the decode worker exited while decoding this image (status {status}); "
                "the image may be crafted to crash decoders",
                kind=ErrorKind.SERVER,
                retryable=False,
            ) from None
        except WorkerTimedOut:
            self._end_process(kill=True)
            raise ImageGenError(
                f"decoding this image took longer than the {time_limit:g} s limit; "
                "the decode worker was stopped",
                kind=ErrorKind.SERVER,
                retryable=False,
            ) from None
        return reply

    def _collect(self, reply: dict[str, Any]) -> DecodedImage:
        buffer = self._segment.buf if self._segment is not None else None
        assert buffer is not None
        with buffer[: int(reply["length"])] as view:
            pixels = bytes(view)
        size = ImageSize(int(reply["width"]), int(reply["height"]))
        return DecodedImage(pixels, size, str(reply["mode"]), reply["source_format"])

    def _grow(self, needed: int) -> None:
        assert self._segment is not None
        if needed <= self._segment.size:
            return
        bigger = SharedMemory(create=True, size=needed)
        self._segment.close()
        self._segment.unlink()
        self._segment = bigger

    def _end_process(self, *, kill: bool) -> int | None:
        process, self._process, self._ready = self._process, None, False
        if process is None:
            return None
        if kill:
            process.kill()
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()
        try:
            status = process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
        process.stdout.close()
        return status


class _DecodePool:
    """Worker processes, their dispatch threads, and the thread path for small images.

    Args:
        workers: Worker processes; 0 decodes everything in one thread.
        min_process_pixels: Smallest declared pixel count sent to a worker.
        time_limit: Seconds a worker may take over one image.
        command: How to start a worker.
    """

    def __init__(
        self,
        workers: int,
        *,
        min_process_pixels: int = PROCESS_MIN_PIXELS,
        time_limit: float = DECODE_TIME_LIMIT,
        command: tuple[str, ...] = _WORKER_COMMAND,
    ) -> None:
        self.min_process_pixels = min_process_pixels
        self.time_limit = time_limit
        self._workers = [_Worker(command) for _ in range(workers)]
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        for worker in self._workers:
            self._idle.put(worker)
        self._threads = ThreadPoolExecutor(max(1, workers), thread_name_prefix="imagegen-decode")
        # Decodes in this process take turns, as in a single decode thread:
        # two at once would make the loop queue behind both for the GIL.
        self._in_process = threading.Lock()
        self._fallen_back = threading.Event()

    @property
    def workers(self) -> int:
        """Worker processes in use: 0 once the pool fell back to threads."""
        return 0 if self._fallen_back.is_set() else len(self._workers)

    @property
    def pids(self) -> list[int]:
        """Ids of the worker processes running now."""
        return [pid for worker in self._workers if (pid := worker.pid) is not None]

    @property
    def segment_names(self) -> list[str]:
        """Names of the shared-memory segments the pool holds now."""
        return [name for worker in self._workers if (name := worker.segment_name) is not None]

    def __len__(self) -> int:
        """Worker processes the pool was made with."""
        return len(self._workers)

    def start(self, *, wait: bool = False) -> int:
        """Start the idle worker processes now; return how many the pool uses (0 after a fall-back).

        With ``wait``, return once they are ready to decode.

        A busy worker is running already; an idle one is taken out of the
        idle queue while it starts, so no dispatch thread drives it meanwhile.
        """
        idle: list[_Worker] = []
        while True:
            try:
                idle.append(self._idle.get_nowait())
            except queue.Empty:
                break
        try:
            for worker in idle:
                if not self._fallen_back.is_set():
                    worker.start()
            for worker in idle if wait else ():
                if not self._fallen_back.is_set():
                    worker.is_ready(timeout=_START_TIMEOUT)
        except _CannotStart as exc:
            self._fall_back(exc)
            for worker in idle:  # held here, so no dispatch thread is using them
                worker.stop()
        finally:
            for worker in idle:
                self._idle.put(worker)
        return self.workers

    def submit(
        self, data: bytes, mode: str, max_pixels: int, background: tuple[int, int, int]
    ) -> Future[DecodedImage]:
        """Queue one decode; cancelling the future before it starts skips it."""
        return self._threads.submit(self._decode, data, mode, max_pixels, background)

    def close(self) -> None:
        """Let running decodes finish, then stop every worker and free its segment."""
        self._threads.shutdown(wait=True)
        for worker in self._workers:
            worker.stop()

    def _decode(
        self, data: bytes, mode: str, max_pixels: int, background: tuple[int, int, int]
    ) -> DecodedImage:
        if self.workers:
            pixels = declared_pixels(data) or 0
            if pixels >= self.min_process_pixels:
                # Room for the pixels of an image the worker will decode; one
                # over the cap is refused from its header, so needs none.
                needed = pixels * channels_of(mode)  # arguments checked by decode_off_loop
                options = {"mode": mode, "max_pixels": max_pixels, "background": background}
                worker = self._idle.get()
                try:
                    worker.start()
                    # A worker still starting would make this image wait for
                    # its imports: decode this one here instead.
                    if worker.is_ready():
                        return worker.decode(
                            data, options, needed if pixels <= max_pixels else 0, self.time_limit
                        )
                except _CannotStart as exc:
                    self._fall_back(exc)
                finally:
                    self._idle.put(worker)
        with self._in_process:
            return decode_image(data, mode=mode, max_pixels=max_pixels, background=background)

    def _fall_back(self, reason: _CannotStart) -> None:
        if self._fallen_back.is_set():
            return
        self._fallen_back.set()
        _log.warning(
            "imagegen: decode worker processes cannot start here (%s); decoding images "
            "in a thread instead, which stalls the event loop more",
            reason,
        )


_lock = threading.Lock()
_shared: _DecodePool | None = None
_chosen: int | None = None
_min_pixels = PROCESS_MIN_PIXELS


def decode_workers() -> int:
    """How many worker processes the decoder uses: the setting, or one per usable CPU, at most 4.

    0 means every image decodes in a thread. A pool that fell back to threads
    (workers could not start) reports 0.
    """
    with _lock:
        if _shared is not None:
            return _shared.workers
    return _default_workers() if _chosen is None else _chosen


def set_decode_workers(count: int | None, *, min_pixels: int = PROCESS_MIN_PIXELS) -> None:
    """Choose how many worker processes decode large images, and from what size.

    Args:
        count: Worker processes; 0 decodes every image in a thread (no
            processes, no shared memory); None goes back to the default,
            one per CPU this process may use, at most :data:`MAX_DECODE_WORKERS`.
            Running workers of another count are stopped, which blocks
            until their current images are done (call it at start-up, or
            from a thread); the next large image starts the new ones.
        min_pixels: Images whose header declares fewer pixels decode in a
            thread (default :data:`PROCESS_MIN_PIXELS`); 0 sends every image
            to a worker.

    Raises:
        ValueError: ``count`` or ``min_pixels`` is negative.
    """
    global _chosen, _min_pixels, _shared
    if count is not None and count < 0:
        raise ValueError("count must be 0 (threads only), a positive number, or None")
    if min_pixels < 0:
        raise ValueError("min_pixels must not be negative")
    with _lock:
        _chosen, _min_pixels = count, min_pixels
        old = _shared
        if old is not None:
            old.min_process_pixels = min_pixels
        if old is not None and len(old) == (_default_workers() if count is None else count):
            old = None  # the running pool already has that many
        else:
            _shared = None
    if old is not None:
        old.close()


def start_decode_workers() -> int:
    """Start the decode worker processes now, so the first large image does not wait for them.

    Returns at once: the processes start in the background and the first
    image they decode waits only for what is left of their start-up. Calling
    it again does nothing. Blocking for a few milliseconds per worker (fork
    and exec), so call it from a thread on an event loop
    (``await asyncio.to_thread(start_decode_workers)``).

    Returns:
        How many workers run: 0 when the setting is 0 or workers cannot start
        here (then one warning is logged and images decode in a thread).
    """
    return _shared_pool().start()


def stop_decode_workers() -> None:
    """Stop the decode worker processes and free their shared memory.

    Blocks until decodes already running finish. Later decodes start a new
    pool. Runs at interpreter exit too.
    """
    global _shared
    with _lock:
        pool, _shared = _shared, None
    if pool is not None:
        pool.close()


async def decode_off_loop(
    data: bytes,
    *,
    mode: str = "RGB",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = DEFAULT_BACKGROUND,
) -> DecodedImage:
    """:func:`~imagegen_core.pixels.decode_image`, off the event loop, without stalling it.

    Large images decode in a worker process, small ones in a thread (see
    the module's docstring); the pixels are ``bytes`` either way. Decodes
    queue in the order they are asked for; one cancelled before its turn
    never runs. Arguments and errors are those of ``decode_image``, plus a
    ``server`` error when a worker dies on the image or overruns
    :data:`DECODE_TIME_LIMIT`.
    """
    check_decode_arguments(mode, max_pixels)
    return await asyncio.wrap_future(_shared_pool().submit(data, mode, max_pixels, background))


def _shared_pool() -> _DecodePool:
    global _shared
    pool = _shared
    if pool is None:
        with _lock:
            if _shared is None:
                workers = _default_workers() if _chosen is None else _chosen
                _shared = _DecodePool(workers, min_process_pixels=_min_pixels)
            pool = _shared
    return pool


def _default_workers() -> int:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        usable = os.cpu_count() or 1
    return min(usable, MAX_DECODE_WORKERS)


def _forget_in_child() -> None:
    """A forked child must not drive its parent's workers: it starts its own."""
    global _lock, _shared
    _lock, _shared = threading.Lock(), None


atexit.register(stop_decode_workers)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
