"""What the suite measures with: the fake API's process, batches of generations, a loop ticker.

Only the standard library here, so both benchmark environments share it.

Event-loop CPU is read with :func:`time.thread_time` *in the loop's thread*:
decode threads and the fake server are not counted, and on a shared machine
it is far steadier than wall time (another process taking the core delays
us, but does not add to our own CPU time).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "TICK",
    "Batch",
    "FakeApi",
    "Stall",
    "idle_floor",
    "median",
    "run_batch",
    "run_with_ticker",
]

BENCHMARKS = Path(__file__).resolve().parent.parent

TICK = 0.005
"""The ticker's period: 5 ms, a quarter of a 20 ms audio frame."""


def median(values: list[float]) -> float:
    """The median, or NaN for no values (a figure that could not be measured)."""
    return statistics.median(values) if values else float("nan")


class FakeApi:
    """The fake Replicate API (:mod:`_bench.fake_api`) in a child process."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"

    def api(self, side: int, *, delay_ms: int = 0, predict_ms: int = 0, max_wait: int = 60) -> str:
        """The profile root for these outputs (append ``/v1`` for the HTTP API's base URL)."""
        return f"{self.origin}/{side}-{delay_ms}-{predict_ms}-{max_wait}"

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[FakeApi]:
        """Start the server; stop it (by closing its standard input) on exit."""
        process = subprocess.Popen(
            [sys.executable, "-m", "_bench.fake_api"],
            cwd=BENCHMARKS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(BENCHMARKS)},
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            if not first:
                raise RuntimeError("the fake API did not start")
            yield cls(int(json.loads(first)["port"]))
        finally:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch of generations: seconds of wall time and of loop-thread CPU, per image."""

    wall: float
    loop_cpu: float
    images: int


async def run_batch(
    generate: Callable[[], Awaitable[int]], *, generations: int, concurrency: int
) -> Batch:
    """Run ``generations`` calls of ``generate``, ``concurrency`` at a time.

    ``generate`` returns how many images it made; the figures are per image.
    """
    pending = iter(range(generations))
    images = 0

    async def worker() -> None:
        nonlocal images
        for _ in pending:
            made = await generate()  # not `images += await ...`: that reads before awaiting
            images += made

    gc.collect()
    cpu, wall = time.thread_time(), time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, generations)):
            group.create_task(worker())
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    if images == 0:
        raise RuntimeError("the batch produced no images")
    return Batch(wall / images, cpu / images, images)


@dataclass(frozen=True, slots=True)
class Stall:
    """How late a 5 ms ticker woke while something ran, and how fast that something went.

    ``full_collections`` and ``longest_collection`` say what the garbage
    collector did in the window (generation-2 collections, and the longest
    pause of any generation), so a stall can be told apart from a collection.
    """

    worst: float
    p99: float
    images_per_second: float
    full_collections: int = 0
    longest_collection: float = 0.0


class _Collections:
    """Times the garbage collector's pauses through ``gc.callbacks`` while installed."""

    def __init__(self) -> None:
        self.full = 0
        self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.longest = max(self.longest, time.perf_counter() - self._started)
        self.full += info.get("generation") == 2

    def __enter__(self) -> _Collections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


async def run_with_ticker(work: Callable[[], Awaitable[int]], *, collect: bool) -> Stall:
    """Run ``work`` (returns its image count) beside a 5 ms ticker.

    Args:
        work: The load; started only once the ticker runs.
        collect: Run a full garbage collection just before the window, as an
            app would after start-up; without it a pending full collection may
            land inside the window.
    """
    lateness: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            lateness.append(max(0.0, loop.time() - due))

    if collect:
        gc.collect()
    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    lateness.clear()
    with _Collections() as collections:
        started = time.perf_counter()
        images = await work()
        elapsed = time.perf_counter() - started
    stop.set()
    await task
    return Stall(
        max(lateness, default=0.0),
        _p99(lateness),
        images / elapsed,
        collections.full,
        collections.longest,
    )


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return max(values, default=0.0)
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def idle_floor(seconds: float = 1.0) -> Stall:
    """The ticker with nothing else running: what this machine's load alone costs it."""

    async def nothing() -> int:
        await asyncio.sleep(seconds)
        return 1

    return await run_with_ticker(nothing, collect=True)
