"""Long predictions: how many requests a 45 s prediction costs, and how late its frame comes.

A prediction that outlives the sync wait is polled. Polling every 0.5 s (the
old plugin's fixed interval) finds the result within 0.25 s on average but
costs about two requests a second for the whole run; backing off saves
requests and costs delay. Both the service and a fixed 0.5 s poller (the
minimal client with a poll loop) run the same predictions at once, with
sync mode off on the fake (as when the wait has expired), started a little
apart so that the moment each finishes falls at a different point of its
polling rhythm. Requests are counted by the fake API; the delay runs from
the moment the fake says the prediction finished to the frame (for the
poller, the decoded image), on the machine's one monotonic clock.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from _bench.meters import FakeApi
from _bench.minimal import MinimalClient

__all__ = ["PREDICT_SECONDS", "Long", "measure_long_predictions"]

PREDICT_SECONDS = 45
FIXED_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class Long:
    """Medians over the predictions of one client."""

    requests: float
    delay: float


async def measure_long_predictions(
    fake: FakeApi,
    first_image_at: Callable[[aiohttp.ClientSession, str], Awaitable[tuple[str, float]]],
    *,
    predictions: int = 6,
) -> dict[str, Long]:
    """Run ``predictions`` long predictions through each of the two, side by side.

    Args:
        fake: The fake API.
        first_image_at: Runs one prompt through the client under test and
            returns the prediction id and when its first frame was ready.
        predictions: Predictions per client.
    """
    api = fake.api(1024, predict_ms=PREDICT_SECONDS * 1000, max_wait=0)
    async with aiohttp.ClientSession() as session:
        poller = MinimalClient(session, api)

        async def later(
            start: float, job: Callable[[], Awaitable[tuple[str, float]]]
        ) -> tuple[str, float]:
            await asyncio.sleep(start)
            return await job()

        spread = FIXED_INTERVAL / predictions
        ours = [later(i * spread, lambda: first_image_at(session, api)) for i in range(predictions)]
        fixed = [
            later(i * spread, lambda: poller.poll_every(FIXED_INTERVAL)) for i in range(predictions)
        ]
        results = await asyncio.gather(*ours, *fixed)
        async with session.get(f"{fake.origin}/_stats") as response:
            stats = json.loads(await response.text())
    figures: dict[str, Long] = {}
    for name, done in (("service", results[:predictions]), ("fixed", results[predictions:])):
        figures[name] = Long(
            requests=statistics.median(stats[id_]["requests"] for id_, _ in done),
            delay=statistics.median(at - stats[id_]["done_at"] for id_, at in done),
        )
    return figures
