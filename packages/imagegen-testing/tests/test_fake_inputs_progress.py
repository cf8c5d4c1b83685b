"""The fake backend edits input images and reports progress when its settings ask."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagegen_core import (
    ErrorKind,
    GeneratedImage,
    GenerationProgress,
    ImageGenError,
    ImageRequest,
    ImageRole,
    ImageSize,
    InputImage,
)
from imagegen_testing.fake import FakeBackend


def png(size: tuple[int, int], colour: str | tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def pixel(data: bytes, xy: tuple[int, int]) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        value = image.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return (value[0], value[1], value[2])


async def test_an_edit_keeps_the_input_size_and_derives_from_its_pixels() -> None:
    source = InputImage(data=png((40, 24), "black"))
    backend = FakeBackend()

    [edited] = await backend.generate(ImageRequest(prompt="night", images=[source])).collect()
    [other] = await backend.generate(
        ImageRequest(prompt="night", images=[InputImage(data=png((40, 24), "white"))])
    ).collect()

    assert edited.size == ImageSize(40, 24)
    assert edited.data != other.data  # the source shows through the blend
    assert edited.metadata["inputs"][0].startswith("edit:40x24:")
    assert backend.requests[0].images == (source,)


async def test_a_mask_keeps_the_source_where_black_and_paints_where_white() -> None:
    source = InputImage(data=png((32, 32), (10, 200, 30)))
    mask_image = Image.new("L", (32, 32), 0)
    mask_image.paste(255, (16, 0, 32, 32))  # right half white
    buffer = io.BytesIO()
    mask_image.save(buffer, "PNG")
    request = ImageRequest(
        prompt="a red door", images=[source], mask=InputImage(data=buffer.getvalue())
    )

    [edited] = await FakeBackend().generate(request).collect()

    assert edited.data is not None
    assert pixel(edited.data, (2, 2)) == (10, 200, 30)
    assert edited.metadata["masked"] is True


async def test_references_change_the_picture() -> None:
    backend = FakeBackend()
    plain = ImageRequest(prompt="a fox")
    referenced = ImageRequest(
        prompt="a fox",
        images=[InputImage(data=png((8, 8), "blue"), role=ImageRole.REFERENCE)],
    )

    [first] = await backend.generate(plain).collect()
    [second] = await backend.generate(referenced).collect()

    assert first.data != second.data
    assert second.metadata["inputs"][0].startswith("reference:8x8:")


async def test_inputs_are_refused_when_the_settings_say_text_to_image_only() -> None:
    backend = FakeBackend({"max_input_images": 0})
    request = ImageRequest(prompt="p", images=[InputImage(data=png((8, 8), "red"))])

    with pytest.raises(ImageGenError) as caught:
        backend.generate(request)

    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert backend.capabilities.supports_mask is False
    assert backend.jobs_started == 0


async def test_progress_reports_queue_then_fractions_then_images() -> None:
    backend = FakeBackend({"queue_reports": 2, "progress_steps": 2})

    events = [e async for e in backend.generate(ImageRequest(prompt="p", num_images=2)).events()]

    described = [
        ("image", e.index) if isinstance(e, GeneratedImage) else (e.queue_position, e.fraction)
        for e in events
    ]
    assert described == [
        (1, None),
        (0, None),
        (None, 0.25),
        (None, 0.5),
        ("image", 0),
        (None, 0.75),
        (None, 1.0),
        ("image", 1),
    ]


async def test_previews_are_small_marked_and_not_results() -> None:
    backend = FakeBackend({"progress_steps": 1, "progress_previews": True})
    generation = backend.generate(ImageRequest(prompt="p", size="64x32"))

    events = [e async for e in generation.events()]

    progress = [e for e in events if isinstance(e, GenerationProgress)]
    assert len(progress) == 1
    preview = progress[0].preview
    assert preview is not None
    assert preview.size == ImageSize(16, 8)
    assert preview.metadata["preview"] is True
    assert [e.size for e in events if isinstance(e, GeneratedImage)] == [ImageSize(64, 32)]


async def test_no_progress_unless_asked() -> None:
    events = [e async for e in FakeBackend().generate(ImageRequest(prompt="p")).events()]

    assert [type(e) for e in events] == [GeneratedImage]
