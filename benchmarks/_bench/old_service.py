"""The old ``pipecat-replicate`` 0.1.0 service, measured in an environment of its own.

It needs Pipecat 0.0.108 (it imports a name later Pipecat releases removed),
so the ``bench`` nox session installs it into a second virtualenv and runs
this module there against the same fake API, beside the minimal client, and
reads the per-round figures it prints as JSON. The ratios to the minimal
client are therefore measured in the same process, like everyone else's.

Run: ``python -m _bench.old_service PORT ROUNDS`` from ``benchmarks/``.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import json
import sys
import time
from typing import Any

import aiohttp

from _bench.meters import FakeApi
from _bench.minimal import MinimalClient
from _bench.scenarios import Client, measure_clients

__all__ = ["OldServiceClient", "main"]


class OldServiceClient:
    """``pipecat_replicate.ReplicateImageGenService``, driven through ``run_image_gen``."""

    def __init__(self, session: aiohttp.ClientSession, api: str) -> None:
        self._session = session
        self._api = api
        self._services: dict[int, Any] = {}

    def _service(self, outputs: int) -> Any:
        if outputs not in self._services:
            module: Any = importlib.import_module("pipecat_replicate")
            service_class = module.ReplicateImageGenService
            self._services[outputs] = service_class(
                aiohttp_session=self._session,
                api_token="bench",
                base_url=self._api + "/v1",
                settings=service_class.Settings(num_outputs=outputs, seed=10),
            )
        return self._services[outputs]

    async def generate(self, outputs: int = 1) -> int:
        """One prompt; returns the image frames it yielded."""
        frames = importlib.import_module("pipecat.frames.frames")
        made = 0
        async for frame in self._service(outputs).run_image_gen("a lighthouse at dawn"):
            if isinstance(frame, frames.ErrorFrame):
                raise RuntimeError(frame.error)
            if isinstance(frame, frames.URLImageRawFrame):
                made += 1
        return made


def _factories() -> dict[str, Any]:
    def minimal(session: aiohttp.ClientSession, api: str) -> Client:
        return MinimalClient(session, api)

    def old(session: aiohttp.ClientSession, api: str) -> Client:
        return OldServiceClient(session, api)

    return {"minimal": minimal, "old": old}


def main() -> None:
    """Measure and print the per-round figures as one JSON document."""
    port, rounds = int(sys.argv[1]), int(sys.argv[2])
    logger: Any = importlib.import_module("loguru").logger
    logger.remove()  # Pipecat and the old plugin log every prompt at DEBUG
    logger.add(sys.stderr, level="WARNING")
    started = time.perf_counter()
    results = asyncio.run(measure_clients(FakeApi(port), _factories(), rounds=rounds))
    versions = {
        name: importlib.metadata.version(name) for name in ("pipecat-ai", "pipecat-replicate")
    }
    print(
        json.dumps(
            {"results": results, "versions": versions, "seconds": time.perf_counter() - started}
        )
    )


if __name__ == "__main__":
    main()
