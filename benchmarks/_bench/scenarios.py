"""The measurements every client goes through, interleaved round by round.

Imagegen-free, so the old ``pipecat-replicate`` environment runs the very same
code with its own clients beside the minimal one. Every figure is collected
per round for each client, clients in a rotating order (a burst of load on the
machine then hits all of them alike), and reported later as the median of the
per-round values divided by the minimal client's median from the same run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol

import aiohttp

from _bench.meters import FakeApi, idle_floor, run_batch, run_with_ticker

__all__ = ["CONCURRENCIES", "SIDES", "Client", "Factory", "measure_clients"]

SIDES = (1024, 64)
CONCURRENCIES = (1, 32, 64)
GENERATIONS = {1: 8, 32: 64, 64: 64}
"""Generations per batch at each concurrency (twice as many at the tiny size)."""

STALL_GENERATIONS = 8
STALL_OUTPUTS = 4
FILE_DELAY_MS = 200


class Client(Protocol):
    """Anything that can run one generation and say how many images it decoded."""

    async def generate(self, outputs: int = 1) -> int:
        """One generation of ``outputs`` images, decoded to RGB."""
        ...


Factory = Callable[[aiohttp.ClientSession, str], Client]
"""Builds a client for one fake-API profile root."""


def _rotated(names: list[str], by: int) -> list[str]:
    by %= len(names)
    return names[by:] + names[:by]


async def measure_clients(
    fake: FakeApi, factories: Mapping[str, Factory], *, rounds: int
) -> dict[str, Any]:
    """Run every figure for every client; return the per-round values (JSON-ready)."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        clients = {
            (name, side, delay): factory(session, fake.api(side, delay_ms=delay))
            for name, factory in factories.items()
            for side, delay in ((1024, 0), (64, 0), (1024, FILE_DELAY_MS))
        }
        names = list(factories)
        # Warm every client up: imports, connection pools, first-call caches.
        for client in clients.values():
            await client.generate(1)
        per_image: dict[str, dict[str, dict[str, list[float]]]] = {}
        stall: dict[str, dict[str, dict[str, list[float]]]] = {"gc": {}, "nogc": {}}
        idle: dict[str, list[float]] = {"worst": [], "p99": []}
        four: dict[str, list[float]] = {}
        for round_ in range(rounds):
            for side in SIDES:
                for concurrency in CONCURRENCIES:
                    key = f"{side}/{concurrency}"
                    generations = GENERATIONS[concurrency] * (2 if side == 64 else 1)
                    for name in _rotated(names, round_):
                        batch = await run_batch(
                            clients[name, side, 0].generate,
                            generations=generations,
                            concurrency=concurrency,
                        )
                        figures = per_image.setdefault(key, {}).setdefault(
                            name, {"wall": [], "cpu": []}
                        )
                        figures["wall"].append(batch.wall)
                        figures["cpu"].append(batch.loop_cpu)
            floor = await idle_floor(0.5)
            idle["worst"].append(floor.worst)
            idle["p99"].append(floor.p99)
            for name in _rotated(names, round_):
                for mode in ("gc", "nogc"):
                    result = await run_with_ticker(
                        _parallel(clients[name, 1024, 0], STALL_GENERATIONS, STALL_OUTPUTS),
                        collect=mode == "gc",
                    )
                    figures = stall[mode].setdefault(
                        name, {"worst": [], "p99": [], "ips": [], "full_gcs": [], "gc_pause": []}
                    )
                    figures["worst"].append(result.worst)
                    figures["p99"].append(result.p99)
                    figures["ips"].append(result.images_per_second)
                    figures["full_gcs"].append(result.full_collections)
                    figures["gc_pause"].append(result.longest_collection)
                delayed = clients[name, 1024, FILE_DELAY_MS]
                one = await run_batch(delayed.generate, generations=1, concurrency=1)
                four_batch = await run_batch(
                    partial(delayed.generate, 4), generations=1, concurrency=1
                )
                # Per-image figures of a batch of one generation: scale back to the generation.
                four.setdefault(name, []).append(four_batch.wall * 4 / one.wall)
        return {"per_image": per_image, "stall": stall, "idle": idle, "four_vs_one": four}


def _parallel(client: Client, generations: int, outputs: int) -> Callable[[], Any]:
    async def work() -> int:
        made = await asyncio.gather(*(client.generate(outputs) for _ in range(generations)))
        return sum(made)

    return work
