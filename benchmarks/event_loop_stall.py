"""How much decoding images off the event loop protects a real-time pipeline.

A voice bot's event loop also moves audio: a 20 ms audio frame that waits
behind a 60 ms image decode is an audible glitch. The Pipecat service decodes
every generated image with :func:`imagegen_core.pixels.decode_image` in a
worker thread. This benchmark measures, in one run on this machine:

* baseline: the same images decoded with Pillow directly on the event loop
  (what a naive service does);
* imagegen: :func:`decode_image` via ``asyncio.to_thread``, as the service does;

while a ticker task wakes every millisecond and records how late it wakes. It
prints the worst and the 99th-percentile lateness of each, and the ratios
imagegen/baseline, plus the ratio of total decode throughput (the safety
checks and the thread hop are not free). Only ratios are meaningful: these
machines are shared and noisy, so absolute milliseconds vary run to run.

Run: ``uv run python benchmarks/event_loop_stall.py`` (or ``uvx nox -s bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
from collections.abc import Awaitable, Callable

from PIL import Image

from imagegen_core import ImageSize, OutputFormat
from imagegen_core.pixels import decode_image
from imagegen_testing.fake.images import render_test_image

TICK = 0.001


async def measure(decode_all: Callable[[], Awaitable[None]]) -> tuple[float, float, float]:
    """Run ``decode_all`` beside a 1 ms ticker; return (seconds, worst lateness, p99 lateness)."""
    lateness: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            lateness.append(max(0.0, loop.time() - due))

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)  # let the ticker settle
    lateness.clear()
    started = time.perf_counter()
    await decode_all()
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    ordered = sorted(lateness)
    p99 = ordered[int(len(ordered) * 0.99)] if ordered else 0.0
    return elapsed, max(ordered, default=0.0), p99


def images(count: int, side: int) -> list[bytes]:
    """Encoded PNGs of the size a 1 MP generation returns."""
    return [
        render_test_image(
            seed_text=f"benchmark {i}", size=ImageSize(side, side), output_format=OutputFormat.PNG
        )
        for i in range(count)
    ]


async def run(count: int, side: int, rounds: int) -> None:
    """Measure both ways ``rounds`` times, interleaved, and print medians and ratios."""
    files = images(count, side)

    async def on_the_loop() -> None:
        for data in files:
            with Image.open(io.BytesIO(data)) as image:
                image.convert("RGB").tobytes()
            await asyncio.sleep(0)

    async def off_the_loop() -> None:
        for data in files:
            await asyncio.to_thread(decode_image, data)

    results: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "imagegen": []}
    for _ in range(rounds):
        # Interleaved, so a burst of load on the machine hits both alike.
        results["baseline"].append(await measure(on_the_loop))
        results["imagegen"].append(await measure(off_the_loop))

    def median(name: str, index: int) -> float:
        return statistics.median(r[index] for r in results[name])

    print(f"{count} PNG images of {side}x{side}, {rounds} interleaved rounds, medians:")
    for name in results:
        print(
            f"  {name:9} total {median(name, 0) * 1000:8.1f} ms   "
            f"worst loop stall {median(name, 1) * 1000:7.2f} ms   "
            f"p99 stall {median(name, 2) * 1000:7.2f} ms"
        )
    print("ratios imagegen / baseline (lower is better):")
    for label, index in (("worst loop stall", 1), ("p99 loop stall", 2), ("total time", 0)):
        print(f"  {label:16} {median('imagegen', index) / median('baseline', index):6.3f}")


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="images per round (default 8)")
    parser.add_argument("--side", type=int, default=1024, help="image side in pixels")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args()
    asyncio.run(run(args.images, args.side, args.rounds))


if __name__ == "__main__":
    main()
