"""Input images reach each model under its own input name: inline, linked or uploaded."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from PIL import Image

from imagegen_core import ErrorKind, ImageGenError, ImageRequest, ImageRole, InputImage
from imagegen_replicate import InputNames, ReplicateBackend, ReplicateSettings
from imagegen_testing.emulator import (
    FLUX_2_PRO,
    FLUX_KONTEXT_PRO,
    NANO_BANANA,
    SDXL,
    SDXL_VERSION,
    Fault,
    ReplicateEmulator,
)
from imagegen_testing.emulator.faults import Route
from imagegen_testing.emulator.models import (
    FLUX_KONTEXT_PRO_MODEL,
    NANO_BANANA_MODEL,
    EmulatedModel,
)

from .conftest import MakeSettings


def png(size: tuple[int, int] = (40, 30), colour: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def noise_png(size: tuple[int, int]) -> bytes:
    """A PNG that does not compress (so it is larger than the inline limit)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3)).save(
        buffer, "PNG"
    )
    return buffer.getvalue()


def edit(*images: bytes, mask: bytes | None = None, prompt: str = "make it night") -> ImageRequest:
    return ImageRequest(
        prompt=prompt,
        images=[InputImage(data=data) for data in images],
        mask=InputImage(data=mask) if mask is not None else None,
    )


@asynccontextmanager
async def unknown_model(
    make_settings: MakeSettings, like: EmulatedModel, name: str
) -> AsyncIterator[tuple[ReplicateEmulator, ReplicateSettings]]:
    """An emulator running ``like``'s schema as ``name``, a model the backend has no profile for."""
    async with ReplicateEmulator(
        extra_models=[replace(like, name=name)], min_cancel_after=0
    ) as emu:
        yield emu, make_settings(model=name, base_url=emu.base_url, inputs={})


def only_prediction(emulator: ReplicateEmulator):
    (record,) = emulator.predictions.values()
    return record


async def test_kontext_gets_its_image_as_input_image_inline(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    image = png((48, 32))
    async with ReplicateBackend(make_settings(model=FLUX_KONTEXT_PRO, inputs={})) as backend:
        (result,) = await backend.generate(edit(image)).collect()

    record = only_prediction(emulator)
    assert record.received == {"input_image": [image]}
    assert record.input["input_image"].startswith("data:image/png;base64,")
    assert "image" not in record.input
    assert result.index == 0
    assert emulator.counters.files_created == 0


async def test_models_taking_lists_get_every_image_in_one_list(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    first, second = png(colour=(1, 2, 3)), png(colour=(200, 100, 0))
    for model, name in ((NANO_BANANA, "image_input"), (FLUX_2_PRO, "input_images")):
        async with ReplicateBackend(make_settings(model=model, inputs={})) as backend:
            await backend.generate(edit(first, second)).collect()
        record = next(r for r in emulator.predictions.values() if r.model == model)
        assert record.received == {name: [first, second]}


async def test_sdxl_gets_image_and_mask(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    image, mask = png((32, 32)), png((32, 32), colour=(255, 255, 255))
    settings = make_settings(model=f"{SDXL}:{SDXL_VERSION}", inputs={"num_inference_steps": 2})
    async with ReplicateBackend(settings) as backend:
        await backend.generate(edit(image, mask=mask)).collect()
    assert only_prediction(emulator).received == {"image": [image], "mask": [mask]}


async def test_large_images_are_uploaded_and_deleted_afterwards(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    image = noise_png((64, 64))
    settings = make_settings(model=FLUX_KONTEXT_PRO, inputs={}, max_data_url_bytes=1024)
    assert len(image) > 1024
    async with ReplicateBackend(settings) as backend:
        await backend.generate(edit(image)).collect()

    record = only_prediction(emulator)
    assert record.input["input_image"].startswith(f"{emulator.origin}/v1/files/")
    assert record.received == {"input_image": [image]}
    assert (emulator.counters.files_created, emulator.counters.files_deleted) == (1, 1)
    assert sum(f.available for f in emulator.files.values()) == 0


async def test_an_image_url_is_passed_as_it_is(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # The edit of a picture generated a moment ago: its delivery URL, not its bytes.
    async with ReplicateBackend(make_settings(inputs={})) as backend:
        (first,) = await backend.generate(ImageRequest(prompt="a house")).collect()
    assert first.url is not None
    async with ReplicateBackend(make_settings(model=FLUX_KONTEXT_PRO, inputs={})) as backend:
        request = ImageRequest(prompt="at night", images=[InputImage(url=first.url)])
        await backend.generate(request).collect()
    record = next(r for r in emulator.predictions.values() if r.model == FLUX_KONTEXT_PRO)
    assert record.input["input_image"] == first.url


async def test_inputs_a_model_cannot_take_fail_before_any_request(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    cases = [
        ({"model": FLUX_KONTEXT_PRO}, edit(png(), png())),  # two images, one input
        ({"model": FLUX_KONTEXT_PRO}, edit(png((8, 8)), mask=png((8, 8)))),  # no mask input
        ({}, edit(png())),  # flux-schnell: text to image only
    ]
    for settings, request in cases:
        async with ReplicateBackend(make_settings(inputs={}, **settings)) as backend:
            with pytest.raises(ImageGenError) as caught:
                await backend.generate(request).collect()
        assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert sum(emulator.counters.requests.values()) == 0


async def test_an_unknown_model_takes_images_once_its_schema_is_read(
    make_settings: MakeSettings,
) -> None:
    async with unknown_model(make_settings, FLUX_KONTEXT_PRO_MODEL, "acme/editor") as (
        emu,
        settings,
    ):
        async with ReplicateBackend(settings) as backend:
            assert backend.capabilities.max_input_images == 0  # not known yet: not claimed
            with pytest.raises(ImageGenError, match="no input images"):
                backend.generate(edit(png()))
            resolved = await backend.resolve_capabilities()
            assert resolved.max_input_images == 1
            assert resolved.input_roles == frozenset(ImageRole)
            assert backend.capabilities == resolved
            await backend.generate(edit(png())).collect()
            await backend.generate(edit(png())).collect()
        assert emu.counters.requests[Route.MODELS_GET] == 1  # cached
        assert all("input_image" in r.input for r in emu.predictions.values())


async def test_a_model_whose_schema_has_no_image_input_is_refused_even_if_declared(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    declared = {"max_input_images": 1, "input_roles": ["edit"]}
    async with ReplicateBackend(make_settings(inputs={}, capabilities=declared)) as backend:
        with pytest.raises(ImageGenError, match="no input that takes images") as caught:
            await backend.generate(edit(png())).collect()
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert emulator.counters.predictions_created == 0


async def test_input_names_replace_the_schema(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    settings = make_settings(
        model=FLUX_KONTEXT_PRO, inputs={}, input_names=InputNames(images="input_image")
    )
    async with ReplicateBackend(settings) as backend:
        await backend.generate(edit(png())).collect()
    assert emulator.counters.requests[Route.MODELS_GET] == 0
    assert "input_image" in only_prediction(emulator).received


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault.http_error(413, route=Route.FILES_CREATE), ErrorKind.INVALID_REQUEST),
        (Fault.http_error(401, route=Route.FILES_CREATE), ErrorKind.AUTHENTICATION),
        (Fault.malformed_reply(route=Route.FILES_CREATE), ErrorKind.SERVER),
        (Fault.malformed_reply(route=Route.MODELS_GET), ErrorKind.SERVER),
        (Fault.http_error(404, route=Route.MODELS_GET), ErrorKind.INVALID_REQUEST),
    ],
)
async def test_faults_of_the_files_and_schema_routes_are_categorized_and_nothing_is_billed(
    make_settings: MakeSettings, emulator: ReplicateEmulator, fault: Fault, kind: ErrorKind
) -> None:
    emulator.script(fault)
    settings = make_settings(model=FLUX_KONTEXT_PRO, inputs={}, max_data_url_bytes=0)
    async with ReplicateBackend(settings) as backend:
        with pytest.raises(ImageGenError) as caught:
            await backend.generate(edit(png())).collect()
    assert caught.value.kind is kind
    assert emulator.counters.predictions_created == 0


async def test_a_failing_upload_is_retried(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.http_error(503, route=Route.FILES_CREATE))
    settings = make_settings(model=FLUX_KONTEXT_PRO, inputs={}, max_data_url_bytes=0)
    async with ReplicateBackend(settings) as backend:
        await backend.generate(edit(png())).collect()
    assert emulator.counters.requests[Route.FILES_CREATE] == 2
    assert emulator.counters.files_deleted == emulator.counters.files_created == 1


async def test_uploads_are_deleted_when_the_prediction_fails(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.failed_prediction("CUDA out of memory"))
    settings = make_settings(model=FLUX_KONTEXT_PRO, inputs={}, max_data_url_bytes=0)
    async with ReplicateBackend(settings) as backend:
        with pytest.raises(ImageGenError):
            await backend.generate(edit(png())).collect()
    assert emulator.counters.files_deleted == emulator.counters.files_created == 1


async def test_an_interrupted_edit_cancels_the_prediction_then_deletes_its_uploads(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.slow_prediction(predict=30.0))
    settings = make_settings(
        model=FLUX_KONTEXT_PRO, inputs={}, max_data_url_bytes=0, wait_seconds=1
    )
    async with ReplicateBackend(settings) as backend:
        task = asyncio.create_task(backend.generate(edit(png())).collect())
        await emulator.wait_until(lambda e: e.counters.predictions_running == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert emulator.counters.cancels_received == 1
    assert emulator.counters.files_deleted == emulator.counters.files_created == 1


async def test_an_edit_interrupted_during_the_create_keeps_its_uploads_until_cancelled(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # The create is still held when the interruption lands: the uploads are
    # deleted after the background cancel, not under the starting prediction.
    emulator.script(Fault.slow_prediction(predict=30.0))
    emulator.max_sync_wait = 0.5
    settings = make_settings(
        model=FLUX_KONTEXT_PRO, inputs={}, max_data_url_bytes=0, wait_seconds=1
    )
    async with ReplicateBackend(settings) as backend:
        task = asyncio.create_task(backend.generate(edit(png())).collect())
        await emulator.wait_until(lambda e: e.counters.predictions_created == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert emulator.counters.files_deleted == 0
    assert emulator.counters.cancels_received == 1
    [record] = emulator.predictions.values()
    assert record.status == "canceled"
    assert emulator.counters.files_deleted == emulator.counters.files_created == 1


async def test_a_deployment_is_known_through_the_version_its_release_runs(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    async with ReplicateBackend(
        make_settings(model="deployments/imagegen/flux-schnell")
    ) as backend:
        resolved = await backend.resolve_capabilities()
    assert resolved.max_images_per_call == 4
    assert resolved.max_input_images == 0
    assert emulator.counters.requests[Route.DEPLOYMENTS_GET] == 1
    assert emulator.counters.requests[Route.MODELS_VERSIONS_GET] == 1


async def test_a_bare_version_has_no_schema_to_read(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    async with ReplicateBackend(make_settings(model=SDXL_VERSION)) as backend:
        with pytest.raises(ImageGenError, match="input_names") as caught:
            await backend.resolve_capabilities()
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert sum(emulator.counters.requests.values()) == 0


async def test_what_a_new_models_schema_says_it_cannot_do_warns_or_fails_before_the_create(
    make_settings: MakeSettings,
) -> None:
    # The first generation of an unknown model is checked against the generic
    # profile (seed, any ratio); its schema, read during that generation, says
    # otherwise: no seed (a warning, not a silent drop), and a fixed list of ratios.
    async with unknown_model(make_settings, NANO_BANANA_MODEL, "acme/banana") as (emu, settings):
        async with ReplicateBackend(settings) as backend:
            generation = backend.generate(ImageRequest(prompt="a pear", seed=3))
            await generation.collect()
        assert [w.setting for w in generation.warnings] == ["seed"]
        assert "seed" not in next(iter(emu.predictions.values())).input
        async with ReplicateBackend(settings) as backend:
            with pytest.raises(ImageGenError, match="7:3") as caught:
                await backend.generate(ImageRequest(prompt="a pear", aspect_ratio="7:3")).collect()
        assert caught.value.kind is ErrorKind.INVALID_REQUEST
        assert emu.counters.predictions_created == 1
