"""The happy paths against the emulator: sync replies, polling, outputs, model shapes."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest
from PIL import Image

from imagegen_core import ImageRequest, WarningKind
from imagegen_replicate import ReplicateBackend
from imagegen_replicate._transport import ReplicateTransport
from imagegen_testing.emulator import (
    DEFAULT_DEPLOYMENT,
    FLUX_SCHNELL,
    FLUX_SCHNELL_VERSION,
    Fault,
    ReplicateEmulator,
    Route,
)

from .conftest import MakeSettings, answer_before_done


async def test_one_image_as_a_url_with_metadata(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    [image] = await backend.generate(ImageRequest(prompt="a lighthouse")).collect()
    assert image.url is not None
    assert image.url.startswith(emulator.base_url.removesuffix("/v1"))
    assert image.data is None
    assert image.media_type == "image/webp"
    assert image.index == 0
    [record] = emulator.predictions.values()
    assert image.metadata["prediction_id"] == record.id
    assert image.metadata["model"] == FLUX_SCHNELL
    assert image.metadata["status"] == "succeeded"
    assert isinstance(image.metadata["predict_time"], float)
    assert emulator.counters.requests[Route.MODELS_PREDICTIONS_CREATE] == 1
    assert emulator.counters.requests[Route.PREDICTIONS_GET] == 0  # the sync reply was final


async def test_sync_wait_and_cancel_after_headers_are_sent(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    async with ReplicateBackend(make_settings(wait_seconds=7, cancel_after=42)) as backend:
        await backend.generate(ImageRequest(prompt="x")).collect()
    async with ReplicateBackend(make_settings(timeout=12.5)) as backend:
        await backend.generate(ImageRequest(prompt="x")).collect()
    explicit, derived = emulator.predictions.values()
    assert explicit.prefer_wait == 7
    assert explicit.cancel_after == 42.0
    assert derived.cancel_after == 13.0  # the generation timeout, rounded up


async def test_several_images_in_order_and_options_pass_through(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    request = ImageRequest(
        prompt="three cats",
        num_images=3,
        aspect_ratio="16:9",
        seed=7,
        output_format="jpeg",
        quality=60,
        options={"num_inference_steps": 2, "go_fast": False},
    )
    images = await backend.generate(request).collect()
    assert sorted(image.index for image in images) == [0, 1, 2]
    assert len({image.url for image in images}) == 3
    assert all(image.media_type == "image/jpeg" for image in images)
    [record] = emulator.predictions.values()
    assert record.input == {
        "prompt": "three cats",
        "megapixels": "0.25",
        "num_outputs": 3,
        "aspect_ratio": "16:9",
        "seed": 7,
        "output_format": "jpg",
        "output_quality": 60,
        "num_inference_steps": 2,
        "go_fast": False,
    }


async def test_data_url_outputs_become_decodable_bytes(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.data_urls())
    images = await backend.generate(ImageRequest(prompt="x", num_images=2)).collect()
    assert len(images) == 2
    for image in images:
        assert image.url is None
        assert image.data is not None
        assert image.media_type == "image/webp"
        with Image.open(io.BytesIO(image.data)) as decoded:
            assert decoded.size == (512, 512)


async def test_sync_reply_still_processing_with_data_urls_needs_no_poll(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    # Outputs are uploaded while the status still says "processing": the
    # sync reply carries every file inline, so there is nothing to wait for.
    emulator.script(Fault.data_urls(), Fault.slow_prediction(upload=2.0))
    images = await backend.generate(ImageRequest(prompt="x", num_images=2)).collect()
    assert [image.data is not None for image in images] == [True, True]
    assert {image.metadata["status"] for image in images} == {"processing"}
    assert emulator.counters.requests[Route.PREDICTIONS_GET] == 0


async def test_starting_reply_is_polled_until_done(
    make_settings: MakeSettings, emulator: ReplicateEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_replies: list[Any] = []
    create = ReplicateTransport.create

    async def recording_create(self: ReplicateTransport, *args: Any, **kwargs: Any) -> Any:
        reply = await create(self, *args, **kwargs)
        create_replies.append(reply.status)
        return reply

    monkeypatch.setattr(ReplicateTransport, "create", recording_create)
    # No sync wait at all: the reply is made as the prediction is created, so it
    # says "starting" however late the machine runs the queue's timer (a 20 ms
    # wait against a 50 ms queue lost that race under load).
    answer_before_done(emulator, sync_wait=0, queue=0.05, predict=0.05)
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert create_replies == ["starting"]
    assert image.url is not None
    assert image.metadata["status"] == "succeeded"
    assert emulator.counters.requests[Route.PREDICTIONS_GET] >= 1


async def test_polling_backs_off(make_settings: MakeSettings, emulator: ReplicateEmulator) -> None:
    answer_before_done(emulator, predict=0.6)
    settings = make_settings(poll_interval=0.01, poll_backoff=2.0, poll_max_interval=0.16)
    async with ReplicateBackend(settings) as backend:
        await backend.generate(ImageRequest(prompt="x")).collect()
    polls = emulator.counters.requests[Route.PREDICTIONS_GET]
    # A fixed 10 ms interval would poll ~60 times in 0.6 s; 10, 20, 40, 80, 160,
    # 160... ms polls about 8 times.
    assert 2 <= polls <= 14


async def test_pinned_version_and_bare_version_id(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    for model in (f"{FLUX_SCHNELL}:{FLUX_SCHNELL_VERSION}", FLUX_SCHNELL_VERSION):
        async with ReplicateBackend(make_settings(model=model)) as backend:
            [image] = await backend.generate(ImageRequest(prompt="x")).collect()
        assert image.metadata["version"] == FLUX_SCHNELL_VERSION
    assert emulator.counters.requests[Route.PREDICTIONS_CREATE] == 2
    assert emulator.counters.requests[Route.MODELS_PREDICTIONS_CREATE] == 0


async def test_deployment(make_settings: MakeSettings, emulator: ReplicateEmulator) -> None:
    settings = make_settings(model=f"deployments/{DEFAULT_DEPLOYMENT}")
    async with ReplicateBackend(settings) as backend:
        [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert image.metadata["deployment"] == DEFAULT_DEPLOYMENT
    assert emulator.counters.requests[Route.DEPLOYMENTS_PREDICTIONS_CREATE] == 1
    [record] = emulator.predictions.values()
    assert record.deployment == DEFAULT_DEPLOYMENT


async def test_fewer_images_than_asked_is_a_warning(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.nsfw(dropped=1))
    generation = backend.generate(ImageRequest(prompt="x", num_images=3))
    images = await generation.collect()
    assert len(images) == 2
    [warning] = generation.warnings
    assert warning.kind is WarningKind.OTHER
    assert "2 of 3" in warning.message


async def test_unsupported_setting_is_a_warning_and_not_sent(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    generation = backend.generate(ImageRequest(prompt="x", negative_prompt="blur", size="64x64"))
    await generation.collect()
    assert {w.setting for w in generation.warnings} == {"negative_prompt", "size"}
    [record] = emulator.predictions.values()
    assert "negative_prompt" not in record.input
    assert "width" not in record.input


async def test_download_outputs_fetches_bytes_without_the_token(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    async with ReplicateBackend(make_settings(download_outputs=True)) as backend:
        [image] = await backend.generate(ImageRequest(prompt="x", output_format="png")).collect()
    assert image.data is not None
    assert image.url is None
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.format == "PNG"
    assert emulator.counters.requests[Route.DELIVERY_GET] == 1
    assert emulator.counters.files_with_authorization == 0


async def test_caller_session_is_used_and_left_open(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    async with aiohttp.ClientSession() as session:
        backend = ReplicateBackend(make_settings(), session=session)
        await backend.generate(ImageRequest(prompt="x")).collect()
        await backend.aclose()
        await backend.aclose()  # idempotent
        assert not session.closed


async def test_own_session_is_closed(make_settings: MakeSettings) -> None:
    backend = ReplicateBackend(make_settings())
    await backend.generate(ImageRequest(prompt="x")).collect()
    session = backend._sessions._own
    assert session is not None
    assert not session.closed
    await backend.aclose()
    assert session.closed


async def test_settings_update_applies_to_the_next_generation(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    backend.update_settings(model=f"deployments/{DEFAULT_DEPLOYMENT}")
    await backend.generate(ImageRequest(prompt="x")).collect()
    assert emulator.counters.requests[Route.DEPLOYMENTS_PREDICTIONS_CREATE] == 1


@pytest.mark.parametrize("ratio", ["7:5", "2:1"])
async def test_aspect_ratio_flux_lacks_fails_before_any_request(
    backend: ReplicateBackend, emulator: ReplicateEmulator, ratio: str
) -> None:
    from imagegen_core import ErrorKind, ImageGenError

    with pytest.raises(ImageGenError) as caught:
        backend.generate(ImageRequest(prompt="x", aspect_ratio=ratio))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert emulator.counters.total_requests == 0
