"""A prediction's life: created, queued, run, finished, cancelled, or expired.

Each prediction runs as its own task, independent of the HTTP request that
created it, as on Replicate: a client that disconnects from a sync request
does not stop the prediction, only a cancel or a deadline does. Cancelling
sets the final status *before* the reply is sent, so a client that got the
cancel reply can rely on the emulator's counters already showing it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from imagegen_testing.emulator.faults import Fault, FaultKind, Route
from imagegen_testing.emulator.images import render_outputs
from imagegen_testing.emulator.schema import FluxSchnellInput
from imagegen_testing.emulator.state import EmulatorState, PredictionPlan, PredictionRecord, Status

__all__ = ["ALL_NSFW", "cancel", "create_prediction", "plan_for"]

_log = logging.getLogger("imagegen_testing.emulator")

ALL_NSFW = (
    "All generated images contained NSFW content. Try running it again with a different prompt."
)
"""flux-schnell's error when the safety checker withholds every image."""

_SEED_LIMIT = 2**32


def plan_for(state: EmulatorState, faults: Iterable[Fault]) -> PredictionPlan:
    """The plan of a new prediction: the emulator's latency, changed by this request's faults."""
    latency = state.latency
    settings: dict[str, Any] = {
        "queue": latency.queue,
        "predict": latency.predict,
        "upload": latency.upload,
    }
    for fault in faults:
        if fault.kind is FaultKind.SLOW_PREDICTION:
            for phase in ("queue", "predict", "upload"):
                if getattr(fault, phase) is not None:
                    settings[phase] = getattr(fault, phase)
        elif fault.kind is FaultKind.FAILED_PREDICTION:
            settings["error"] = fault.error
        elif fault.kind is FaultKind.NSFW:
            settings["nsfw_dropped"] = fault.dropped
        elif fault.kind is FaultKind.DATA_REMOVED:
            settings["data_removed_after"] = fault.after
        elif fault.kind is FaultKind.DATA_URLS:
            settings["data_urls"] = True
    return PredictionPlan(**settings)


def create_prediction(
    state: EmulatorState,
    *,
    route: Route,
    model: str,
    version: str,
    raw_input: dict[str, Any],
    options: FluxSchnellInput,
    plan: PredictionPlan,
    deployment: str | None,
    prefer_wait: int | None,
    cancel_after: float | None,
) -> PredictionRecord:
    """Store a new prediction, start running it, and arm its deadline."""
    seed = options.seed if options.seed is not None else state.rng.randrange(_SEED_LIMIT)
    record = PredictionRecord(
        id=state.store.new_id(),
        route=route,
        model=model,
        version=version,
        input=raw_input,
        options=options,
        seed=seed,
        plan=plan,
        origin=state.origin,
        file_key=state.store.new_id(32),
        deployment=deployment,
        prefer_wait=prefer_wait,
        cancel_after=cancel_after,
    )
    state.store.add(record)
    state.counters.predictions_created += 1
    record.task = asyncio.create_task(_run(record), name=f"replicate-emulator-{record.id}")
    if cancel_after is not None:
        loop = asyncio.get_running_loop()
        record.timers.append(loop.call_later(cancel_after, cancel, record, "deadline"))
    _log.debug("prediction %s created via %s", record.id, route.value)
    return record


def cancel(record: PredictionRecord, by: str) -> None:
    """End a prediction early: ``by`` is ``"user"``, ``"deadline"`` or ``"shutdown"``.

    A deadline that strikes before the prediction started aborts it; anything
    else cancels it. A terminal prediction is left as it is.
    """
    if record.status.terminal:
        return
    aborted = by == "deadline" and record.status is Status.STARTING
    record.canceled_by = by
    record.logs.append(
        "Prediction aborted: deadline reached" if aborted else f"Prediction canceled ({by})"
    )
    record.finish(Status.ABORTED if aborted else Status.CANCELED)
    if record.task is not None:
        record.task.cancel()


async def _run(record: PredictionRecord) -> None:
    try:
        await _advance(record)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        # A bug in the emulator must show up as a failed prediction, not a silent hang.
        _log.exception("prediction %s crashed", record.id)
        record.finish(Status.FAILED, error=f"emulator error: {error!r}")


async def _advance(record: PredictionRecord) -> None:
    plan, options = record.plan, record.options
    await asyncio.sleep(plan.queue)
    record.mark_processing()
    record.logs.append(f"Using seed: {record.seed}")
    if options.ignored:
        record.logs.append(f"Ignoring unknown input(s): {', '.join(options.ignored)}")
    width, height = options.size
    record.logs.append(
        f"Generating {options.num_outputs} image(s) at {width}x{height}, "
        f"{options.num_inference_steps} step(s)"
    )
    await asyncio.sleep(plan.predict)
    if plan.error is not None:
        record.logs.append(f"Error: {plan.error}")
        record.finish(Status.FAILED, error=plan.error)
        return
    files = await render_outputs(options, record.seed)
    if plan.nsfw_dropped:
        files = _safety_check(record, files, plan.nsfw_dropped)
        if not files:
            record.finish(Status.FAILED, error=ALL_NSFW)
            return
    record.mark_outputs(files)
    await asyncio.sleep(plan.upload)
    record.finish(Status.SUCCEEDED)
    if plan.data_removed_after is not None:
        if plan.data_removed_after == 0:
            record.remove_data()
        else:
            loop = asyncio.get_running_loop()
            record.timers.append(loop.call_later(plan.data_removed_after, record.remove_data))


def _safety_check(record: PredictionRecord, files: list[bytes], dropped: int) -> list[bytes]:
    if record.options.disable_safety_checker:
        record.logs.append("Safety checker disabled; no images withheld")
        return files
    kept = max(0, len(files) - dropped)
    for index in range(kept, len(files)):
        record.logs.append(f"NSFW content detected in image {index}")
    record.logs.append(f"Total safe images: {kept} out of {len(files)}")
    return files[:kept]
