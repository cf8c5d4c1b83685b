"""What the short sync wait and adaptive polling cost against holding the create for 60 s.

Issue 9 shortened the Replicate backend's sync wait (``Prefer: wait``) from
60 s to 5 s, because an interruption can cancel a prediction only once the
create's reply, holding its id, is in. A prediction longer than the wait is
then followed by polling. This benchmark runs, side by side in one run against
the in-process emulator (one emulator per case, so requests are counted per
case and rate limits do not interfere), the same predictions of several
lengths with:

* ``60 s wait`` (the baseline): the backend as it was, ``wait_seconds=60``,
  polls backing off from 0.5 s to 5 s;
* ``5 s + adaptive``: the new defaults (5 s wait; polls back off from 0.5 s
  to 0.7 s while processing, to 2 s while starting);
* ``5 s + fixed 0.5 s``: the same wait, then a poll every 0.5 s, the usual
  simple client.

For each it prints, as medians over the rounds: the time from the request to
the image (and its ratio to the baseline), the delay from the prediction's
completion on the emulator to the backend handing over the image, and the
requests per prediction (and their ratio to fixed 0.5 s polling). The
predictions of one case last from the nominal length to one second more,
evenly spread, so that the delay is sampled across the polling cycle. Only the
ratios and the differences mean anything across machines.

Run: ``uv run python benchmarks/replicate_polling.py [--rounds N] [--predict S ...]``
(also part of ``uvx nox -s bench``). With the default lengths (1, 8 and 45 s)
a run takes about 50 s of wall time and little CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imagegen_core import ImageRequest
from imagegen_replicate import ReplicateBackend
from imagegen_testing.emulator import Fault, ReplicateEmulator

STRATEGIES: dict[str, dict[str, Any]] = {
    "60 s wait": {
        "wait_seconds": 60,
        "poll_max_interval": 5.0,
        "poll_max_interval_starting": 5.0,
    },
    "5 s + adaptive": {},
    "5 s + fixed 0.5 s": {
        "wait_seconds": 5,
        "poll_interval": 0.5,
        "poll_backoff": 1.0,
        "poll_max_interval": 0.5,
        "poll_max_interval_starting": 0.5,
    },
}
BASELINE = "60 s wait"
FIXED = "5 s + fixed 0.5 s"


@dataclass(frozen=True)
class Sample:
    """One prediction: seconds from request to image, and from completion to image."""

    total: float
    delay: float


@dataclass(frozen=True)
class Case:
    """The medians of one strategy at one prediction length."""

    total: float
    delay: float
    requests: float


async def run_case(strategy: dict[str, Any], predict: float, rounds: int) -> Case:
    """``rounds`` concurrent predictions of ``predict`` seconds with one strategy's settings."""
    async with ReplicateEmulator() as emulator:
        # Spread the lengths over one second: the delay after completion
        # depends on where the completion falls between two polls, so equal
        # lengths would measure one phase of the schedule, not its median.
        for round_ in range(rounds):
            emulator.script(Fault.slow_prediction(predict=predict + round_ / rounds))
        settings = {
            "api_token": emulator.api_token,
            "base_url": emulator.base_url,
            "inputs": {"megapixels": "0.25"},
            "timeout": predict + 120.0,
            **strategy,
        }
        async with ReplicateBackend(settings) as backend:
            samples = await asyncio.gather(*(one(backend, emulator) for _ in range(rounds)))
        requests = emulator.counters.total_requests / rounds
    return Case(
        total=statistics.median(s.total for s in samples),
        delay=statistics.median(s.delay for s in samples),
        requests=requests,
    )


async def one(backend: ReplicateBackend, emulator: ReplicateEmulator) -> Sample:
    """One prediction, timed from the request to the backend handing over its image."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    [image] = await backend.generate(ImageRequest(prompt="a lighthouse")).collect()
    total = loop.time() - started
    handed_over = datetime.now(UTC)
    record = emulator.predictions[str(image.metadata["prediction_id"])]
    assert record.completed_at is not None
    return Sample(total=total, delay=(handed_over - record.completed_at).total_seconds())


async def main(rounds: int, lengths: list[float]) -> None:
    """Run every case concurrently and print the table."""
    keys = [(name, predict) for predict in lengths for name in STRATEGIES]
    cases = await asyncio.gather(
        *(run_case(STRATEGIES[name], predict, rounds) for name, predict in keys)
    )
    results = dict(zip(keys, cases, strict=True))
    print(
        f"# Replicate sync wait and polling; {platform.machine()}, Python "
        f"{platform.python_version()}, {rounds} rounds per case (medians), emulator in-process"
    )
    print(
        "| predict time | strategy | request to image | ratio to 60 s wait "
        "| completion to image | requests | ratio to fixed 0.5 s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for predict in lengths:
        base = results[(BASELINE, predict)]
        fixed = results[(FIXED, predict)]
        for name in STRATEGIES:
            case = results[(name, predict)]
            print(
                f"| {predict:g} s | {name} | {case.total:.2f} s | {case.total / base.total:.3f} "
                f"| {case.delay:.2f} s | {case.requests:.1f} "
                f"| {case.requests / fixed.requests:.2f} |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="predictions per case")
    parser.add_argument(
        "--predict", type=float, nargs="+", default=[1.0, 8.0, 45.0], help="predict times (s)"
    )
    args, _ = parser.parse_known_args()  # `nox -s bench -- ...` passes every script the same
    asyncio.run(main(args.rounds, args.predict))
