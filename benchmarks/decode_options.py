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
* one decode thread: :func:`imagegen_core.pixels.decode_off_loop`, what the
  service uses;
* two decode threads;
* a process pool of two (spawned workers; pixels come back pickled).

Only ratios are meaningful: these machines are shared, and the idle floor
(the ticker with nothing else running) is printed for scale.

Run: ``uv run python benchmarks/decode_options.py`` (or ``uvx nox -s bench``).
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
from imagegen_core.pixels import decode_image, decode_off_loop

IMAGES = 32


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

    async def one_thread() -> int:
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
        "one decode thread (the service)": one_thread,
        "two decode threads": in_pool(pools["threads"]),
        "process pool of two": in_pool(pools["processes"]),
    }


async def run(rounds: int) -> None:
    """Measure every option ``rounds`` times, interleaved, and print medians and ratios."""
    files = [encoded_image(1024, seed=n) for n in range(IMAGES)]
    spawn = multiprocessing.get_context("spawn")
    with (
        ThreadPoolExecutor(2) as threads,
        ProcessPoolExecutor(2, mp_context=spawn) as processes,
    ):
        # Start the workers before measuring: a pool's start-up is paid once per process.
        list(processes.map(_pixels, files[:2]))
        options = _options(files, {"threads": threads, "processes": processes})
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
    args = parser.parse_args()
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
