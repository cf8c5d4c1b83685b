"""Progress events from polled replies (status, tqdm logs) and previews from iterator models."""

from __future__ import annotations

from imagegen_core import GeneratedImage, GenerationProgress, ImageRequest
from imagegen_replicate import ReplicateBackend
from imagegen_testing.emulator import PREVIEW_STREAM, SDXL, SDXL_VERSION, ReplicateEmulator

from .conftest import MakeSettings, answer_before_done


async def events_of(backend: ReplicateBackend, request: ImageRequest) -> list[object]:
    return [event async for event in backend.generate(request).events()]


async def test_tqdm_logs_become_fractions_between_a_start_and_the_image(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # No sync wait: the create's reply is made as the prediction is created, so
    # it says "starting" (the first event below) whatever the load; a 10 ms
    # wait against the 50 ms queue could answer "processing" on a busy machine.
    answer_before_done(emulator, sync_wait=0, queue=0.05, predict=0.4)
    settings = make_settings(
        model=f"{SDXL}:{SDXL_VERSION}",
        inputs={"num_inference_steps": 4, "width": 32, "height": 32},
        poll_interval=0.02,
        poll_max_interval=0.02,
    )
    async with ReplicateBackend(settings) as backend:
        events = await events_of(backend, ImageRequest(prompt="a lighthouse"))

    progress = [e for e in events if isinstance(e, GenerationProgress)]
    images = [e for e in events if isinstance(e, GeneratedImage)]
    assert len(images) == 1
    assert events[-1] is images[0]
    assert progress[0].message == "waiting for a worker"
    fractions = [p.fraction for p in progress if p.fraction is not None]
    assert fractions == sorted(fractions)
    assert set(fractions) <= {0.0, 0.25, 0.5, 0.75, 1.0}  # only what the logs said
    assert len(fractions) >= 2
    assert all(p.preview is None for p in progress)
    assert len(progress) == len({(p.fraction, p.message) for p in progress})  # no repeats


async def test_a_model_that_logs_nothing_reports_only_its_status(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, queue=0.03, predict=0.1)
    async with ReplicateBackend(make_settings()) as backend:
        events = await events_of(backend, ImageRequest(prompt="a lighthouse"))
    progress = [e for e in events if isinstance(e, GenerationProgress)]
    assert progress
    assert all(p.fraction is None for p in progress)


async def test_an_iterator_models_early_outputs_are_previews_never_results(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=0.6)
    settings = make_settings(
        model=PREVIEW_STREAM,
        inputs={"num_inference_steps": 6, "preview_every": 2},
        poll_interval=0.02,
        poll_max_interval=0.02,
    )
    async with ReplicateBackend(settings) as backend:
        events = await events_of(backend, ImageRequest(prompt="a lighthouse"))
        images = await backend.generate(ImageRequest(prompt="again")).collect()

    previews = [e.preview for e in events if isinstance(e, GenerationProgress) and e.preview]
    results = [e for e in events if isinstance(e, GeneratedImage)]
    assert len(results) == 1
    assert results[0].index == 0
    assert 1 <= len(previews) <= 2  # the two previews, unless one fell between polls
    assert all(p.metadata["preview"] for p in previews)
    with_previews = [e for e in events if isinstance(e, GenerationProgress) and e.preview]
    assert all(e.fraction is not None for e in with_previews)  # the logs' own, when they had one
    assert results[0].url not in {p.url for p in previews}
    assert len(images) == 1  # collect() counts results only
