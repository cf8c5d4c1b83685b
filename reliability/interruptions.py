"""Interruptions: the user speaks while an image is being made, at random moments.

Each interruption lands in one of seven moments, chosen by how the emulator
answers: while the create request is held (``Prefer: wait``) for a
prediction that outlasts the sync wait, and for one that ends within it
(its id comes with its result: too late to cancel, so measured, not
promised), while the client polls (once with cancels answered at once and once with each
cancel taking two seconds), while an output file downloads, and the
pipeline ending mid-prediction (the user hanging up), once with cancels
answered at once and once with each cancel taking two seconds. What must hold: every prediction
running at the interruption is cancelled on the provider (none runs on to be
billed), the interrupted prompt yields nothing, the interruption passes the
service without waiting for the provider's cancel (the frames behind it are
the next turn's), and the next prompt on the same pipeline succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

import aiohttp

from imagegen_testing.emulator import Fault, Latency, PredictionRecord, ReplicateEmulator, Status
from reliability import subjects
from reliability.bots import Bot, shares
from reliability.figures import Figure, percentile

__all__ = ["MOMENTS", "InterruptionPlan", "Moment", "run_interruptions"]

SECTION = "interruptions"
IDLE_TIMEOUT = 15.0
"""Seconds after an interruption by which the provider must be idle."""
GRACE = 0.3
"""Seconds an interrupted prompt is watched after it looks idle (a create still in flight)."""
NEXT_PROMPT_TIMEOUT = 30.0
HELD_LIMIT = 1.0
"""Seconds an interruption may take to pass the service (it must not wait for a remote cancel)."""


@dataclass(frozen=True)
class Moment:
    """Where in a generation an interruption lands."""

    name: str
    latency: Latency
    max_sync_wait: float | None
    """The emulator's cap on ``Prefer: wait`` (0: every create answers at once)."""
    delay: tuple[float, float]
    """The interruption comes this many seconds (uniform) after the prediction exists.

    Counted from the emulator's record of the prediction, not from sending the
    prompt: on a loaded machine the prompt can take longer than the delay to
    reach the provider, and an interruption landing before the create would
    test a moment other than the one named (and find nothing to cancel).
    """
    hang_up: bool = False
    """End the pipeline (a ``CancelFrame``) instead of sending an ``InterruptionFrame``."""
    after_outputs: bool = False
    """Count the delay from the moment the prediction has its outputs (so: mid-download)."""
    cancellable: bool = True
    """Whether a prediction still running there can be cancelled (its id known in time)."""
    slow_cancel: float = 0.0
    """Seconds each cancel request takes before the emulator acts on it."""


MOMENTS = (
    # The prediction outlasts the sync wait (5 s by default): once the wait
    # ends, the reply brings its id and the cancel can follow.
    Moment("during the create request", Latency(predict=6.5), None, (0.05, 1.0)),
    # The prediction ends within the sync wait: its id arrives with its
    # result, too late for any cancel. Measured, not promised.
    Moment(
        "during the create request, done within the sync wait",
        Latency(predict=2.5),
        None,
        (0.05, 1.0),
        cancellable=False,
    ),
    Moment("while polling", Latency(predict=3.0), 0.0, (0.05, 1.0)),
    # The provider takes 2 s to act on a cancel: the interruption (and every
    # frame behind it, the next turn's) must not wait for that.
    Moment(
        "while polling, cancel taking 2 s", Latency(predict=5.0), 0.0, (0.05, 1.0), slow_cancel=2.0
    ),
    Moment(
        "during a download",
        Latency(predict=0.0, download=3.0),
        None,
        (0.05, 1.0),
        after_outputs=True,
    ),
    Moment("at pipeline end (hang-up)", Latency(predict=3.0), 0.0, (0.05, 1.0), hang_up=True),
    # Slower than the second newer Pipecat waits for a cancelled task: the
    # service must still wait (bounded) for the cancel to reach the provider.
    Moment(
        "at pipeline end, cancel taking 2 s",
        Latency(predict=5.0),
        0.0,
        (0.05, 1.0),
        hang_up=True,
        slow_cancel=2.0,
    ),
)


@dataclass(frozen=True)
class InterruptionPlan:
    """How many interruptions, over how many concurrent pipelines."""

    per_moment: int = 34
    pipelines: int = 10
    seed: int = 7


@dataclass
class _Tally:
    interruptions: int = 0
    running_at_interruption: int = 0
    ran_on: int = 0
    stale_outcomes: int = 0
    next_failed: int = 0
    idle_times: list[float] = field(default_factory=list)
    held: list[float] = field(default_factory=list)
    """Seconds from each interruption until it had passed the service."""


def _records(emu: ReplicateEmulator, prompt: str) -> list[PredictionRecord]:
    return [r for r in emu.predictions.values() if r.input.get("prompt") == prompt]


def _running(emu: ReplicateEmulator, prompt: str) -> set[str]:
    """The ids of the prompt's predictions not yet terminal."""
    return {r.id for r in _records(emu, prompt) if not r.status.terminal}


async def _watch(
    emu: ReplicateEmulator, prompt: str, at: float, running: set[str]
) -> tuple[set[str], float]:
    """``running`` (taken at ``at``) and the ids started since, and the seconds until all ended.

    The caller takes ``running`` before it interrupts: a hang-up can wait
    (bounded) for its cancel to land, and a snapshot taken after it would
    miss the very prediction it cancelled.
    """
    running = set(running)
    last_busy = at
    while True:
        now = time.monotonic()
        busy = _running(emu, prompt)
        running |= busy
        if busy:
            last_busy = now
        elif now - last_busy >= GRACE or now - at > IDLE_TIMEOUT:
            return running, last_busy - at
        if now - at > IDLE_TIMEOUT:
            return running, IDLE_TIMEOUT
        await asyncio.sleep(0.01)


async def _prediction_reached(emu: ReplicateEmulator, prompt: str, *, outputs: bool) -> None:
    """Wait (bounded) until the prompt's prediction exists, or has its output files.

    Past the bound the interruption comes anyway, and its tally shows what it found.
    """

    def reached(emu: ReplicateEmulator) -> bool:
        records = _records(emu, prompt)
        return any(record.files for record in records) if outputs else bool(records)

    with contextlib.suppress(TimeoutError):
        await emu.wait_until(reached, within=IDLE_TIMEOUT)


async def _interrupt_once(
    emu: ReplicateEmulator,
    bot: Bot,
    moment: Moment,
    prompt: str,
    wait: float,
    tally: _Tally,
) -> None:
    outcome = await bot.prompt(prompt)
    await _prediction_reached(emu, prompt, outputs=moment.after_outputs)
    await asyncio.sleep(wait)
    at, running = time.monotonic(), _running(emu, prompt)
    bot.interruption_passed = None
    if moment.hang_up:
        await bot.hang_up()
    else:
        await bot.interrupt()
    running, idle = await _watch(emu, prompt, at, running)
    tally.interruptions += 1
    tally.running_at_interruption += len(running)
    tally.ran_on += sum(emu.predictions[i].status is Status.SUCCEEDED for i in running)
    tally.idle_times.append(idle)
    if not moment.hang_up and bot.interruption_passed is not None:
        tally.held.append(bot.interruption_passed - at)
    # An outcome already on its way when the service took the interruption is
    # not stale; one that came out after the interruption had passed it is.
    passed = (None if moment.hang_up else bot.interruption_passed) or at
    if outcome.last_at is not None and outcome.last_at > passed:
        tally.stale_outcomes += outcome.count


async def _one_pipeline(
    emu: ReplicateEmulator,
    moment: Moment,
    index: int,
    count: int,
    rng: random.Random,
    tally: _Tally,
) -> None:
    async with aiohttp.ClientSession() as session:
        if moment.hang_up:
            for number in range(count):
                bot = Bot(subjects.replicate_service(emu, session))
                async with bot:
                    prompt = f"{moment.name} {index}-{number}"
                    await _interrupt_once(
                        emu, bot, moment, prompt, rng.uniform(*moment.delay), tally
                    )
            return
        async with Bot(subjects.replicate_service(emu, session)) as bot:
            for number in range(count):
                prompt = f"{moment.name} {index}-{number}"
                await _interrupt_once(emu, bot, moment, prompt, rng.uniform(*moment.delay), tally)
                after = await bot.ask(f"after {prompt}", within=NEXT_PROMPT_TIMEOUT)
                if len(after.images) != 1 or after.errors:
                    tally.next_failed += 1


async def run_interruptions(plan: InterruptionPlan = InterruptionPlan()) -> list[Figure]:
    """Interrupt ``plan.per_moment`` prompts at each moment; return the figures."""
    rng = random.Random(plan.seed)  # noqa: S311 - reproducible moments, not secrets
    tallies: dict[str, _Tally] = {}
    async with subjects.emulator() as emu:
        cancels_before = emu.counters.cancels_received
        for moment in MOMENTS:
            emu.latency, emu.max_sync_wait = moment.latency, moment.max_sync_wait
            if moment.slow_cancel:
                emu.faults.add_rate(Fault.slow_cancel(moment.slow_cancel), rate=1.0)
            tally = tallies[moment.name] = _Tally()
            seeds = [rng.random() for _ in range(plan.pipelines)]
            work = shares(plan.per_moment, plan.pipelines)
            await asyncio.gather(
                *(
                    _one_pipeline(emu, moment, i, share, random.Random(seed), tally)  # noqa: S311
                    for i, (share, seed) in enumerate(zip(work, seeds, strict=True))
                    if share
                )
            )
            emu.faults.clear()
        cancels = emu.counters.cancels_received - cancels_before
    return _figures(tallies, cancels)


def _figures(tallies: dict[str, _Tally], cancels: int) -> list[Figure]:
    def figure(name: str, value: float, unit: str = "", expected: float | None = None) -> Figure:
        return Figure(SECTION, name, value, unit, expected)

    everything = list(tallies.values())
    rows = [figure(f"interruptions {name}", t.interruptions) for name, t in tallies.items()]
    rows += [
        figure(
            "predictions running at an interruption",
            sum(t.running_at_interruption for t in everything),
        ),
        figure("cancels received by the emulator", cancels),
    ]
    promised = {moment.name: moment.cancellable for moment in MOMENTS}
    rows += [
        figure(f"ran on, billed: {name}", t.ran_on, expected=0 if promised[name] else None)
        for name, t in tallies.items()
    ]
    rows += [
        figure(f"outcomes of interrupted prompts: {name}", t.stale_outcomes, expected=0)
        for name, t in tallies.items()
    ]
    idle = sorted(time for t in everything for time in t.idle_times)
    held = sorted(time for t in everything for time in t.held)
    rows += [
        figure("time to idle p99", round(1000 * percentile(idle, 0.99)), "ms"),
        figure("interruption held by the service p99", round(1000 * percentile(held, 0.99)), "ms"),
        # A service that waited for the provider's cancel would hold the
        # slow-cancel moment's interruptions for a second or more.
        figure(
            "interruptions held by the service over 1 s",
            sum(time > HELD_LIMIT for time in held),
            expected=0,
        ),
        figure("next prompt failed", sum(t.next_failed for t in everything), expected=0),
    ]
    return rows
