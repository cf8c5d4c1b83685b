"""Event-loop CPU per image, side by side, in well under a minute: the quick loop for issue 10.

The suite (:mod:`suite`) takes four minutes; this runs one size and
concurrency for the minimal client, the Pipecat service, the bare backend and
the two thin clients of :mod:`_bench.floor` against the same fake Replicate
(its own process), interleaved over a few rounds, and prints each one's
loop-thread CPU per image (median and best round) and its ratio to the
minimal client's, the Python calls each makes per image on the loop
thread (counted under :mod:`cProfile`: a figure machine load cannot move, for
telling a small gain from noise), and the event-loop turns per image (passes
of the loop, each with a fixed cost; a timing-dependent figure, see
``_calls_per_image``). Optionally it profiles one client's loop
thread with :mod:`cProfile` (decode threads are not traced, so the profile is
the loop's).

Run from the workspace root::

    uv run python benchmarks/profile_loop.py --side 1024 --concurrency 32
    uv run python benchmarks/profile_loop.py --side 64 --profile service --top 30
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from _bench.clients import BackendClient, ServiceClient
from _bench.floor import ThinBackendClient, ThinServiceClient
from _bench.meters import FakeApi, median, run_batch
from _bench.minimal import MinimalClient
from _bench.scenarios import Client

__all__ = ["main"]

_FACTORIES: Mapping[str, Callable[[aiohttp.ClientSession, str], Client]] = {
    "minimal": MinimalClient,
    "service": ServiceClient,
    "backend": BackendClient,
    "thin-service": ThinServiceClient,
    "thin-backend": ThinBackendClient,
}


async def _measure(api: str, args: argparse.Namespace) -> None:
    concurrency: int = args.concurrency
    generations: int = args.generations or max(8, 4 * concurrency)
    rounds: int = args.rounds
    profile: str | None = args.profile
    top: int = args.top
    dump: str | None = args.dump
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        clients = {name: factory(session, api) for name, factory in _FACTORIES.items()}
        for client in clients.values():  # warm-up: imports, connections, first-call caches
            await run_batch(client.generate, generations=concurrency, concurrency=concurrency)
        cpu: dict[str, list[float]] = {name: [] for name in clients}
        wall: dict[str, list[float]] = {name: [] for name in clients}
        names = list(clients)
        for round_ in range(rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                batch = await run_batch(
                    clients[name].generate, generations=generations, concurrency=concurrency
                )
                cpu[name].append(batch.loop_cpu)
                wall[name].append(batch.wall)
        counted = {name: await _calls_per_image(clients[name], concurrency) for name in names}
        calls = {name: counted[name][0] for name in names}
        turns = {name: counted[name][1] for name in names}
        base_cpu, base_wall = median(cpu["minimal"]), median(wall["minimal"])
        best_cpu = min(cpu["minimal"])
        print(
            f"{'client':<12} {'loop CPU ms':>11} {'ratio':>6} {'best ms':>8} {'ratio':>6}"
            f" {'wall ms':>8} {'ratio':>6} {'calls':>6} {'ratio':>6} {'turns':>6}"
        )
        for name in names:
            mine_cpu, mine_wall, mine_best = median(cpu[name]), median(wall[name]), min(cpu[name])
            print(
                f"{name:<12} {mine_cpu * 1000:>11.3f} {mine_cpu / base_cpu:>6.2f}"
                f" {mine_best * 1000:>8.3f} {mine_best / best_cpu:>6.2f}"
                f" {mine_wall * 1000:>8.2f} {mine_wall / base_wall:>6.2f}"
                f" {calls[name]:>6.0f} {calls[name] / calls['minimal']:>6.2f}"
                f" {turns[name]:>6.1f}"
            )
        if profile is not None:
            # Timed by the loop thread's own CPU clock: waits for the GIL held by
            # decode threads would otherwise swamp the figures.
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            await run_batch(
                clients[profile].generate, generations=generations, concurrency=concurrency
            )
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)
            if dump is not None:
                stats.dump_stats(dump)
        backend = clients["backend"]
        assert isinstance(backend, BackendClient)
        await backend.aclose()


async def _calls_per_image(client: Client, concurrency: int) -> tuple[float, float]:
    """Python calls and event-loop turns on the loop thread per image.

    Calls: a figure machine load cannot move (counted by :mod:`cProfile`; a
    coroutine's every resumption counts as one). Turns: passes of the loop
    (``_run_once``: a ``select`` and the callbacks it made ready), each with
    a fixed cost whatever it runs. Unlike calls they depend on timing: a
    congested loop finds many events ready per pass, an idle one wakes for
    each, so a client whose images arrive one by one pays more turns.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    batch = await run_batch(client.generate, generations=2 * concurrency, concurrency=concurrency)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total: int = getattr(stats, "total_calls", 0)
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = getattr(stats, "stats", {})
    turns = sum(
        entry[1]
        for (filename, _, function), entry in entries.items()
        if function == "_run_once" and filename.endswith("base_events.py")
    )
    return total / batch.images, turns / batch.images


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, start the fake API, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--side", type=int, choices=(1024, 64), default=1024)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--generations", type=int, default=None, help="per batch (default 4x c)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=tuple(_FACTORIES), default=None)
    parser.add_argument("--dump", default=None, help="write the pstats file here too")
    parser.add_argument("--top", type=int, default=25, help="profile lines per ordering")
    args = parser.parse_args(argv)
    with FakeApi.running() as fake:
        asyncio.run(_measure(fake.api(args.side), args))


if __name__ == "__main__":
    main()
