"""Ways to decode images off the event loop, measured against each other.

A voice bot's event loop also moves audio: a 20 ms frame that waits behind an
image decode is an audible glitch. Every option below decodes the same 32
WebP images of 1024x1024 (eight generations of four, as they arrive at once)
while a 5 ms ticker records how late it wakes, and reports the worst and the
99th-percentile lateness and the throughput relative to
``asyncio.to_thread`` per image (what most clients do, the minimal one
included):

* on the loop: Pillow on the event loop itself (what a naive service does);
* ``to_thread`` per image: every decode in the default executor at once;
* one decode thread (what the service did before its worker processes);
* two decode threads;
* a process pool of two (spawned workers; pixels come back pickled);
* :func:`imagegen_core.pixels.decode_off_loop`, what the service uses: worker
  processes started with ``subprocess``, pixels back through shared memory.

A second table decodes one image at a time at each of several sizes, in a
thread and through a worker, with the ticker running: it is how the
size from which images go to a worker (``PROCESS_MIN_PIXELS``) was chosen.

Only ratios are meaningful: these machines are shared, and the idle floor
(the ticker with nothing else running) is printed for scale.

Run: ``uv run --group bench python benchmarks/decode_options.py`` (or ``uvx nox -s bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from _bench.fake_api import encoded_image
from _bench.meters import Stall, idle_floor, run_with_ticker
from imagegen_core.pixels import (
    PROCESS_MIN_PIXELS,
    decode_image,
    decode_off_loop,
    decode_workers,
    set_decode_workers,
    start_decode_workers,
)

IMAGES = 32
THRESHOLD_SIDES = (64, 128, 256, 384, 512, 768, 1024)
"""Sides of the square images the size table decodes one at a time."""
THRESHOLD_REPEATS = 12


def _pixels(data: bytes) -> bytes:
    return decode_image(data).pixels


def _options(
    files: list[bytes], pools: dict[str, Executor]
) -> dict[str, Callable[[], Awaitable[int]]]:
    async def on_the_loop() -> int:
        for data in files:
            _pixels(data)
            await asyncio.sleep(0)
        return len(files)

    async def to_thread() -> int:
        await asyncio.gather(*(asyncio.to_thread(_pixels, data) for data in files))
        return len(files)

    async def workers() -> int:
        await asyncio.gather(*(decode_off_loop(data) for data in files))
        return len(files)

    def in_pool(pool: Executor) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(pool, _pixels, data) for data in files))
            return len(files)

        return run

    return {
        "on the loop": on_the_loop,
        "to_thread per image": to_thread,
        "one decode thread (the service before)": in_pool(pools["thread"]),
        "two decode threads": in_pool(pools["threads"]),
        "process pool of two (pickled)": in_pool(pools["processes"]),
        f"{decode_workers()} worker processes, shared memory (the service)": workers,
    }


async def _one_at_a_time(decode: Callable[[bytes], Awaitable[object]], data: bytes) -> Stall:
    async def work() -> int:
        for _ in range(THRESHOLD_REPEATS):
            await decode(data)
        return THRESHOLD_REPEATS

    return await run_with_ticker(work, collect=True)


async def sizes(rounds: int) -> None:
    """Print, per image size, one image at a time: thread against worker, latency and stall."""
    thread = ThreadPoolExecutor(1)
    loop = asyncio.get_running_loop()

    async def in_thread(data: bytes) -> object:
        return await loop.run_in_executor(thread, _pixels, data)

    set_decode_workers(None, min_pixels=0)  # every size through a worker
    try:
        await decode_off_loop(encoded_image(64))  # the workers have started
        results: dict[tuple[int, str], list[Stall]] = {}
        for _ in range(rounds):
            for side in THRESHOLD_SIDES:
                data = encoded_image(side)
                for name, decode in (("thread", in_thread), ("worker", decode_off_loop)):
                    stall = await _one_at_a_time(decode, data)
                    results.setdefault((side, name), []).append(stall)
    finally:
        set_decode_workers(None)
        thread.shutdown()

    def med(side: int, name: str, figure: str) -> float:
        return float(statistics.median(getattr(s, figure) for s in results[(side, name)]))

    print()
    print(
        f"one image at a time, {THRESHOLD_REPEATS} per size and round, {rounds} rounds, medians "
        f"(images from {PROCESS_MIN_PIXELS:,} pixels go to a worker by default)"
    )
    print()
    print(
        "| side | thread: ms per image | worker: ms per image "
        "| thread: worst / p99 (ms) | worker: worst / p99 (ms) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for side in THRESHOLD_SIDES:
        thread_ms = 1000 / med(side, "thread", "images_per_second")
        worker_ms = 1000 / med(side, "worker", "images_per_second")
        stalls = [
            f"{med(side, name, 'worst') * 1000:.1f} / {med(side, name, 'p99') * 1000:.1f}"
            for name in ("thread", "worker")
        ]
        print(f"| {side} | {thread_ms:.2f} | {worker_ms:.2f} | {stalls[0]} | {stalls[1]} |")


async def run(rounds: int) -> None:
    """Measure every option ``rounds`` times, interleaved, and print medians and ratios."""
    files = [encoded_image(1024, seed=n) for n in range(IMAGES)]
    spawn = multiprocessing.get_context("spawn")
    with (
        ThreadPoolExecutor(1) as thread,
        ThreadPoolExecutor(2) as threads,
        ProcessPoolExecutor(2, mp_context=spawn) as processes,
    ):
        # Start the workers before measuring: a pool's start-up is paid once per process.
        list(processes.map(_pixels, files[:2]))
        await asyncio.to_thread(start_decode_workers)
        await asyncio.gather(*(decode_off_loop(data) for data in files[:4]))
        options = _options(files, {"thread": thread, "threads": threads, "processes": processes})
        results: dict[str, list[Stall]] = {name: [] for name in options}
        floors: list[Stall] = []
        for round_ in range(rounds):
            floors.append(await idle_floor(0.5))
            names = list(options)
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                results[name].append(await run_with_ticker(options[name], collect=True))

    def med(name: str, figure: str) -> float:
        return float(statistics.median(getattr(r, figure) for r in results[name]))

    base = "to_thread per image"
    print(
        f"{IMAGES} WebP images of 1024x1024, {rounds} interleaved rounds, medians; "
        f"nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"idle floor: worst {statistics.median(f.worst for f in floors) * 1000:.1f} ms, "
        f"p99 {statistics.median(f.p99 for f in floors) * 1000:.1f} ms"
    )
    print()
    print("| option | worst (ms) | p99 (ms) | worst vs to_thread | throughput vs to_thread |")
    print("| --- | --- | --- | --- | --- |")
    for name in options:
        print(
            f"| {name} | {med(name, 'worst') * 1000:.1f} | {med(name, 'p99') * 1000:.1f} | "
            f"{med(name, 'worst') / med(base, 'worst'):.2f} | "
            f"{med(name, 'images_per_second') / med(base, 'images_per_second'):.2f} |"
        )


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--sizes", type=int, default=3, help="rounds of the per-size table (default 3; 0 skips it)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.rounds))
    if args.sizes:
        asyncio.run(sizes(args.sizes))


if __name__ == "__main__":
    main()
