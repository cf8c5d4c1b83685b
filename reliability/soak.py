"""Soak: thousands of prompts through many concurrent pipelines while the emulator misbehaves.

Every kind of fault the emulator has is switched on at a rate (about 15 % of
requests in all, drawn from a seeded RNG), and every pipeline sends its
prompts one after the other, as a bot's user would. What must hold: every
prompt gets exactly one outcome (an image or a categorized error frame), and
when the pipelines have ended nothing is left behind: no asyncio task, no
open socket, no prediction still running on the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp

from imagegen_testing.emulator import (
    CREATE_ROUTES,
    Counters,
    Fault,
    FaultKind,
    ReplicateEmulator,
    Route,
)
from reliability import subjects
from reliability.bots import Bot, Outcome, open_sockets, running_tasks, shares
from reliability.figures import Figure, percentile
from reliability.outcomes import error_kind

__all__ = ["SOAK_FAULTS", "SoakPlan", "run_soak"]

SECTION = "soak"
PROMPT_TIMEOUT = 60.0
"""Seconds a prompt may take before it counts as one without an outcome."""
SETTLE_TIMEOUT = 5.0
"""Seconds the end of a run may take to release tasks, sockets and predictions."""

_CREATE_RATE = 0.0136
_FILE_RATE = 0.0375
_POLL_RATE = 0.075

SOAK_FAULTS: tuple[tuple[Fault, float], ...] = (
    (Fault.rate_limited(retry_after=0.01), _CREATE_RATE),
    (Fault.http_error(500, detail="internal error"), _CREATE_RATE),
    (Fault.http_error(502, html=True), _CREATE_RATE),
    (Fault.connection_reset(), _CREATE_RATE),
    (Fault.connection_reset(after_processing=True), _CREATE_RATE),
    (Fault.malformed_reply(route=CREATE_ROUTES), _CREATE_RATE),
    (Fault.failed_prediction(), _CREATE_RATE),
    (Fault.nsfw(), _CREATE_RATE),
    (Fault.data_removed(), _CREATE_RATE),
    (Fault.slow_prediction(predict=0.3), _CREATE_RATE),
    (Fault.data_urls(), _CREATE_RATE),
    (Fault.http_error(503, route=Route.PREDICTIONS_GET), _POLL_RATE),
    (Fault.connection_reset(route=Route.PREDICTIONS_GET), _POLL_RATE),
    (Fault.slow_download(0.2), _FILE_RATE),
    (Fault.truncated_download(), _FILE_RATE),
    (Fault.corrupt_image(), _FILE_RATE),
    (Fault.http_error(503, route=Route.DELIVERY_GET), _FILE_RATE),
)
"""Every fault kind the emulator has, each at a rate of the requests it can apply to."""


@dataclass(frozen=True)
class SoakPlan:
    """How big a soak is."""

    prompts: int = 2000
    pipelines: int = 64


class _FailedRequests:
    """Counts the HTTP attempts of one bot's session that failed (4xx/5xx or no reply)."""

    def __init__(self) -> None:
        self.bot: Bot | None = None
        self.config = aiohttp.TraceConfig()
        self.config.on_request_end.append(self._ended)
        self.config.on_request_exception.append(self._raised)

    def _note(self) -> None:
        if self.bot is not None and self.bot.outcomes:
            self.bot.outcomes[-1].failed_requests += 1

    async def _ended(self, _s: object, _c: object, params: aiohttp.TraceRequestEndParams) -> None:
        if params.response.status >= 400:
            self._note()

    async def _raised(self, _s: object, _c: object, _p: object) -> None:
        self._note()


async def _one_pipeline(emu: ReplicateEmulator, index: int, prompts: int) -> list[Outcome]:
    requests = _FailedRequests()
    async with aiohttp.ClientSession(trace_configs=[requests.config]) as session:
        service = subjects.replicate_service(emu, session)
        async with Bot(service) as bot:
            requests.bot = bot
            for number in range(prompts):
                await bot.ask(f"soak pipeline {index} prompt {number}", within=PROMPT_TIMEOUT)
        return bot.outcomes


async def _settle(baseline_tasks: int, baseline_sockets: int | None) -> tuple[int, int]:
    """Wait (bounded) for tasks and sockets to return to the baseline; return what is left."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        gc.collect()
        tasks = len(running_tasks()) - baseline_tasks
        sockets = open_sockets()
        extra_sockets = (
            0 if sockets is None or baseline_sockets is None else sockets - baseline_sockets
        )
        if (tasks <= 0 and extra_sockets <= 0) or time.monotonic() > deadline:
            return max(0, tasks), max(0, extra_sockets)
        await asyncio.sleep(0.05)


async def run_soak(plan: SoakPlan = SoakPlan()) -> list[Figure]:
    """Run the soak; return its figures."""
    async with subjects.emulator() as emu:
        for fault, rate in SOAK_FAULTS:
            emu.faults.add_rate(fault, rate=rate)
        baseline_tasks = len(running_tasks())
        baseline_sockets = open_sockets()
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                _one_pipeline(emu, index, share)
                for index, share in enumerate(shares(plan.prompts, plan.pipelines))
            )
        )
        elapsed = time.monotonic() - started
        emu.faults.clear()
        leaked_tasks, leaked_sockets = await _settle(baseline_tasks, baseline_sockets)
        with contextlib.suppress(AssertionError, TimeoutError):  # counted below
            await emu.wait_idle(within=SETTLE_TIMEOUT)
        still_running = emu.counters.predictions_running
        counters = emu.counters
        outcomes = [outcome for result in results for outcome in result]
        return _figures(
            plan, outcomes, counters, elapsed, leaked_tasks, leaked_sockets, still_running
        )


def _figures(
    plan: SoakPlan,
    outcomes: list[Outcome],
    counters: Counters,
    elapsed: float,
    leaked_tasks: int,
    leaked_sockets: int,
    still_running: int,
) -> list[Figure]:
    errors = [frame for outcome in outcomes for frame in outcome.errors]
    kinds = Counter(error_kind(frame) for frame in errors)
    latencies = sorted(o.latency for o in outcomes if o.latency is not None)
    faulted = sum(counters.faults_injected.values())
    kinds_used = {kind for kind in counters.faults_injected if counters.faults_injected[kind]}

    def figure(name: str, value: float, unit: str = "", expected: float | None = None) -> Figure:
        return Figure(SECTION, name, value, unit, expected)

    return [
        figure("prompts", len(outcomes), expected=plan.prompts),
        figure("concurrent pipelines", plan.pipelines),
        figure("requests to the emulator", counters.total_requests),
        figure("faulted requests", round(100 * faulted / max(1, counters.total_requests), 1), "%"),
        figure("fault kinds injected", len(kinds_used), f"of {len(FaultKind)}"),
        figure("prompts with no outcome", sum(o.count == 0 for o in outcomes), expected=0),
        figure("prompts with more than one", sum(o.count > 1 for o in outcomes), expected=0),
        figure("images", sum(len(o.images) for o in outcomes)),
        figure("error outcomes", len(errors)),
        *(
            figure(f"error outcomes: {kind.value}", count)
            for kind, count in sorted(kinds.items(), key=lambda item: -item[1])
            if kind is not None
        ),
        figure("uncategorized errors", kinds[None], expected=0),
        figure(
            "retried, then succeeded",
            sum(1 for o in outcomes if o.images and o.failed_requests),
        ),
        figure("latency p50", round(1000 * percentile(latencies, 0.5)), "ms"),
        figure("latency p99", round(1000 * percentile(latencies, 0.99)), "ms"),
        figure("prompts per second", round(len(outcomes) / elapsed, 1)),
        figure("leaked tasks", leaked_tasks, expected=0),
        figure("leaked connections", leaked_sockets, expected=0),
        figure("predictions running at the end", still_running, expected=0),
    ]
