"""A prediction's life: created, queued, run, finished, cancelled, or expired.

While it runs, a model reads its image inputs (``data:`` URLs, files of the
files API, or earlier outputs on the emulator's delivery host), logs tqdm
progress lines if it has denoising steps to log, and an iterator model adds
previews to ``output`` before its image. An input the model cannot read fails
the prediction with a message naming the input, as a model's own code would.

Each prediction runs as its own task, independent of the HTTP request that
created it, as on Replicate: a client that disconnects from a sync request
does not stop the prediction, only a cancel or a deadline does. Cancelling
sets the final status *before* the reply is sent, so a client that got the
cancel reply can rely on the emulator's counters already showing it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import Any

from imagegen_core import ImageSize
from imagegen_testing.emulator.faults import Fault, FaultKind, Route
from imagegen_testing.emulator.images import (
    RenderJob,
    decode_data_url,
    image_size_of,
    inputs_digest,
    render,
)
from imagegen_testing.emulator.models import EmulatedModel
from imagegen_testing.emulator.schema import ModelInput
from imagegen_testing.emulator.state import EmulatorState, PredictionPlan, PredictionRecord, Status

__all__ = ["ALL_NSFW", "cancel", "create_prediction", "plan_for"]

_log = logging.getLogger("imagegen_testing.emulator")

ALL_NSFW = (
    "All generated images contained NSFW content. Try running it again with a different prompt."
)
"""flux-schnell's error when the safety checker withholds every image."""

_SEED_LIMIT = 2**32
_BAR = 10
_OUTPUT_NAME = re.compile(r"out-(?P<index>\d+)\.[a-z]+")


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
    options: ModelInput,
    spec: EmulatedModel,
    plan: PredictionPlan,
    deployment: str | None,
    prefer_wait: int | None,
    cancel_after: float | None,
) -> PredictionRecord:
    """Store a new prediction, start running it, and arm its deadline."""
    given = options.get("seed")
    seed = given if isinstance(given, int) else state.rng.randrange(_SEED_LIMIT)
    record = PredictionRecord(
        id=state.store.new_id(),
        route=route,
        model=model,
        version=version,
        input=raw_input,
        options=options,
        spec=spec,
        seed=seed,
        plan=plan,
        origin=state.origin,
        file_key=state.store.new_id(32),
        deployment=deployment,
        prefer_wait=prefer_wait,
        cancel_after=cancel_after,
        clock=state.clock,
    )
    state.store.add(record)
    state.counters.predictions_created += 1
    record.task = asyncio.create_task(_run(state, record), name=f"replicate-emulator-{record.id}")
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


async def _run(state: EmulatorState, record: PredictionRecord) -> None:
    try:
        await _advance(state, record)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        # A bug in the emulator must show up as a failed prediction, not a silent hang.
        _log.exception("prediction %s crashed", record.id)
        record.finish(Status.FAILED, error=f"emulator error: {error!r}")


class _InputProblem(Exception):
    """An input image the model cannot read: the prediction fails with this message."""


async def _advance(state: EmulatorState, record: PredictionRecord) -> None:
    plan, options, spec = record.plan, record.options, record.spec
    await asyncio.sleep(plan.queue)
    record.mark_processing()
    record.logs.append(f"Using seed: {record.seed}")
    if options.ignored:
        record.logs.append(f"Ignoring unknown input(s): {', '.join(options.ignored)}")
    try:
        record.received = await asyncio.to_thread(_read_images, state, record)
        first = _first_image_size(record)
    except _InputProblem as problem:
        record.logs.append(f"Error: {problem}")
        record.finish(Status.FAILED, error=str(problem))
        return
    size = record.size = spec.size(options, first)
    count, steps = spec.num_outputs(options), spec.steps(options)
    shown_steps = steps or options.get("num_inference_steps")
    record.logs.append(
        f"Generating {count} image(s) at {size.width}x{size.height}"
        + (f", {shown_steps} step(s)" if shown_steps else "")
    )
    job = RenderJob(
        prompt=str(options.get("prompt", "")),
        seed=record.seed,
        size=size,
        image_format=spec.image_format(options),
        quality=int(options.get("output_quality", 80)),
        inputs_digest=inputs_digest(data for images in record.received.values() for data in images),
    )
    if steps:
        await _denoise(record, job, steps, plan.predict)
    else:
        await asyncio.sleep(plan.predict)
    if plan.error is not None:
        record.logs.append(f"Error: {plan.error}")
        record.finish(Status.FAILED, error=plan.error)
        return
    files = await render(job, (str(index) for index in range(count)))
    if plan.nsfw_dropped:
        files = _safety_check(record, files, plan.nsfw_dropped)
        if not files:
            record.finish(Status.FAILED, error=ALL_NSFW)
            return
    # No await between the outputs and success unless an upload phase takes
    # time: otherwise a held sync reply could render the moment in between.
    uploading = plan.upload > 0
    record.mark_outputs([*record.files, *files], uploading=uploading)
    if uploading:
        await asyncio.sleep(plan.upload)
    record.finish(Status.SUCCEEDED, remove_data=plan.data_removed_after == 0)
    if plan.data_removed_after:
        loop = asyncio.get_running_loop()
        record.timers.append(loop.call_later(plan.data_removed_after, record.remove_data))


def _tqdm_time(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def _tqdm_line(done: int, total: int, elapsed: float) -> str:
    """One progress line as tqdm's defaults print it (`` 40%|████      | 10/25 [...]``)."""
    percent = done * 100 // total
    bar = ("\u2588" * (done * _BAR // total)).ljust(_BAR)
    if done == 0 or elapsed <= 0:
        timing = f"[{_tqdm_time(elapsed)}<?, ?it/s]"
    else:
        rate = done / elapsed
        timing = f"[{_tqdm_time(elapsed)}<{_tqdm_time((total - done) / rate)}, {rate:.2f}it/s]"
    return f"{percent:3d}%|{bar}| {done}/{total} {timing}"


async def _denoise(record: PredictionRecord, job: RenderJob, steps: int, seconds: float) -> None:
    """Run ``steps`` steps over ``seconds``: a tqdm line each, and previews where due."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    previews = set(record.spec.preview_steps(record.options))
    record.logs.append(_tqdm_line(0, steps, 0.0))
    for step in range(1, steps + 1):
        await asyncio.sleep(seconds / steps)
        record.logs.append(_tqdm_line(step, steps, loop.time() - started))
        if step in previews:
            (preview,) = await render(job, [f"preview-{step}"])
            record.add_preview(preview)


def _read_images(state: EmulatorState, record: PredictionRecord) -> dict[str, list[bytes]]:
    """Fetch and decode every image input, as a model's code would before it runs."""
    received: dict[str, list[bytes]] = {}
    for spec in record.spec.image_inputs:
        value = record.options.get(spec.name)
        urls = [value] if isinstance(value, str) else list(value or [])
        if not urls:
            continue
        if spec.limit is not None and len(urls) > spec.limit:
            raise _InputProblem(
                f"{spec.name}: at most {spec.limit} images are supported, got {len(urls)}"
            )
        if spec.mask_for is not None and not record.options.get(spec.mask_for):
            raise _InputProblem(f"{spec.name} needs an {spec.mask_for} to apply to")
        images = [_fetch(state, spec.name, url) for url in urls]
        for data in images:
            try:
                image_size_of(data)
            except ValueError as exc:
                raise _InputProblem(f"{spec.name}: {exc}") from None
        received[spec.name] = images
    for spec in record.spec.image_inputs:
        if spec.mask_for in received and spec.name in received:
            mask = image_size_of(received[spec.name][0])
            image = image_size_of(received[spec.mask_for][0])
            if mask != image:
                raise _InputProblem(
                    f"{spec.name} is {mask.width}x{mask.height} but {spec.mask_for} is "
                    f"{image.width}x{image.height}; they must match"
                )
    return received


def _fetch(state: EmulatorState, name: str, url: str) -> bytes:
    if url.startswith("data:"):
        try:
            return decode_data_url(url)
        except ValueError as exc:
            raise _InputProblem(f"{name}: {exc}") from None
    file = state.files.by_url(url)
    if file is not None:
        return file.data
    if url.startswith(f"{state.origin}/v1/files/"):
        raise _InputProblem(f"{name}: the file {url} does not exist (deleted or expired)")
    delivered = _delivered(state, url)
    if delivered is not None:
        return delivered
    raise _InputProblem(
        f"{name}: could not download {url} (the emulator fetches only its own files)"
    )


def _delivered(state: EmulatorState, url: str) -> bytes | None:
    prefix = f"{state.origin}/delivery/"
    if not url.startswith(prefix):
        return None
    key, _, filename = url.removeprefix(prefix).partition("/")
    source = state.store.by_file_key(key)
    match = _OUTPUT_NAME.fullmatch(filename)
    if source is None or match is None or int(match["index"]) >= len(source.files):
        return None
    return source.files[int(match["index"])]


def _first_image_size(record: PredictionRecord) -> ImageSize | None:
    for spec in record.spec.image_inputs:
        if spec.mask_for is None and record.received.get(spec.name):
            return image_size_of(record.received[spec.name][0])
    return None


def _safety_check(record: PredictionRecord, files: list[bytes], dropped: int) -> list[bytes]:
    if record.options.get("disable_safety_checker"):
        record.logs.append("Safety checker disabled; no images withheld")
        return files
    kept = max(0, len(files) - dropped)
    for index in range(kept, len(files)):
        record.logs.append(f"NSFW content detected in image {index}")
    record.logs.append(f"Total safe images: {kept} out of {len(files)}")
    return files[:kept]
