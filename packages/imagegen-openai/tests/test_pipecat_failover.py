"""Pipecat's ServiceSwitcher fails over from Replicate to OpenAI through the generic service.

Both backends run behind the one ``BackendImageGenService``; when Replicate
fails in a way that makes it unusable (its key rejected, its account out of
credit, an outage), the switcher moves to the OpenAI service, which serves
the next prompt. The backends talk to the two emulators; no network is used.
"""

from __future__ import annotations

import pytest

from imagegen_core.pipecat import BackendImageGenService
from imagegen_openai import OpenAIBackend
from imagegen_replicate import ReplicateBackend
from imagegen_testing.emulator import Fault, ReplicateEmulator
from imagegen_testing.openai_emulator import OpenAIEmulator
from imagegen_testing.pipecat_run import error_frames, image_frames, pause, run_service

from .conftest import settings_for


@pytest.mark.parametrize(
    "fault",
    [Fault.http_error(401), Fault.http_error(402), Fault.http_error(500)],
    ids=["authentication", "quota", "server"],
)
@pytest.mark.usefixtures("imagegen_offline_nltk")
async def test_replicate_fails_over_to_openai(fault: Fault, emulator: OpenAIEmulator) -> None:
    from pipecat.frames.frames import TextFrame
    from pipecat.pipeline.service_switcher import (
        ServiceSwitcher,
        ServiceSwitcherStrategyFailover,
    )

    async with ReplicateEmulator() as replicate:
        replicate.script(fault)
        replicate_backend = ReplicateBackend(
            {
                "api_token": replicate.api_token,
                "base_url": replicate.base_url,
                "max_attempts": 1,
                "inputs": {"megapixels": "0.25"},
            }
        )
        openai_backend = OpenAIBackend(settings_for(emulator, model="gpt-image-1-mini"))
        primary = BackendImageGenService(backend=replicate_backend, name="replicate")
        spare = BackendImageGenService(backend=openai_backend, name="openai")
        switcher = ServiceSwitcher(
            services=[primary, spare], strategy_type=ServiceSwitcherStrategyFailover
        )
        try:
            down, _ = await run_service(
                switcher, [TextFrame("first"), pause(0.3), TextFrame("second")]
            )
        finally:
            await replicate_backend.aclose()
            await openai_backend.aclose()
    assert switcher.strategy.active_service is spare
    assert replicate.counters.total_requests == 1, "one failed create, not retried"
    assert not error_frames(down), "the failure stays upstream"
    frames = image_frames(down)
    assert len(frames) == 1, "the second prompt is served by OpenAI"
    assert frames[0].format == "RGB"
    assert emulator.counters.images_generated == 1
    assert frames[0].metadata["imagegen"]["usage"]["output_tokens"] > 0


@pytest.mark.usefixtures("imagegen_offline_nltk")
async def test_updates_the_model_cannot_serve_are_refused_and_the_old_settings_kept(
    emulator: OpenAIEmulator,
) -> None:
    from pipecat.frames.frames import ServiceUpdateSettingsFrame, TextFrame

    from imagegen_core.pipecat import ImageGenUpdateSettingsFrame

    Settings = BackendImageGenService.Settings
    backend = OpenAIBackend(settings_for(emulator, model="gpt-image-1-mini"))
    service = BackendImageGenService(backend=backend, settings=Settings(num_images=2))
    frames = [
        # dall-e-3 makes one image per call: switching to it would fail every prompt.
        ImageGenUpdateSettingsFrame(delta=Settings(model="dall-e-3")),
        ServiceUpdateSettingsFrame(settings={"aspect_ratio": "7:5"}, service=service),
        ImageGenUpdateSettingsFrame(delta=Settings(quality="high")),  # type: ignore[arg-type]
        TextFrame("still on the old settings"),
    ]
    try:
        down, up = await run_service(service, frames)
    finally:
        await backend.aclose()
    refused = [frame.error for frame in error_frames(up)]
    assert len(refused) == 3
    assert all("invalid_request: settings update refused" in text for text in refused)
    assert "at most 1" in refused[0]
    assert "aspect_ratio '7:5' is not offered" in refused[1]
    assert "quality must be int, not str" in refused[2]
    assert backend.settings.model == "gpt-image-1-mini"
    assert len(image_frames(down)) == 2
