"""Streaming: partial previews arrive before each image, and a broken stream is an error."""

from __future__ import annotations

import pytest

from imagegen_core import (
    ErrorKind,
    GeneratedImage,
    GenerationProgress,
    ImageGenError,
    ImageRequest,
    InputImage,
)
from imagegen_openai import OpenAIBackend
from imagegen_openai._sse import EventTooLarge, ServerSentEvent, iter_events
from imagegen_testing.openai_emulator import OpenAIEmulator, OpenAIFault, OpenAIRoute

from .conftest import failure, settings_for


async def test_a_streamed_generation_yields_the_final_images(emulator: OpenAIEmulator) -> None:
    settings = settings_for(emulator, stream=True, partial_images=2)
    async with OpenAIBackend(settings) as backend:
        images = await backend.generate(ImageRequest(prompt="x", num_images=2)).collect()
    assert [image.index for image in images] == [0, 1]
    assert all(image.data and image.data.startswith(b"\x89PNG") for image in images)
    assert images[0].metadata["usage"]["output_tokens"] > 0
    [sent] = emulator.requests
    assert sent.fields["stream"] is True
    assert sent.fields["partial_images"] == 2
    assert emulator.counters.previews_sent == 4


async def test_partial_previews_are_progress_events_between_the_images(
    emulator: OpenAIEmulator,
) -> None:
    settings = settings_for(emulator, stream=True, partial_images=2)
    async with OpenAIBackend(settings) as backend:
        generation = backend.generate(ImageRequest(prompt="x", num_images=2))
        events = [event async for event in generation.events()]
    kinds = ["image" if isinstance(e, GeneratedImage) else "progress" for e in events]
    assert kinds == ["progress", "progress", "image"] * 2
    progress = [e for e in events if isinstance(e, GenerationProgress)]
    assert [p.preview.index for p in progress if p.preview] == [0, 0, 1, 1]
    assert all(p.fraction is None for p in progress), "OpenAI reports no fraction; none invented"
    assert progress[0].message == "preview 1/2 of image 1/2"
    first = progress[0].preview
    assert first is not None
    assert first.data is not None
    assert first.metadata["preview"] is True
    final = next(e for e in events if isinstance(e, GeneratedImage))
    assert first.size == final.size
    assert first.data != final.data


async def test_iterating_for_images_skips_the_previews(emulator: OpenAIEmulator) -> None:
    async with OpenAIBackend(settings_for(emulator, stream=True, partial_images=3)) as backend:
        generation = backend.generate(ImageRequest(prompt="x"))
        images = await generation.collect()
    assert len(images) == 1
    assert generation.progress is not None
    assert generation.progress.preview is not None


async def test_an_edit_streams_its_previews_too(emulator: OpenAIEmulator) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, "PNG")
    request = ImageRequest(prompt="x", images=(InputImage(data=buffer.getvalue()),))
    async with OpenAIBackend(settings_for(emulator, stream=True, partial_images=1)) as backend:
        events = [event async for event in backend.generate(request).events()]
    assert [type(e).__name__ for e in events] == ["GenerationProgress", "GeneratedImage"]
    assert emulator.requests[0].fields["stream"] is True


async def test_an_error_event_mid_stream_is_an_error_and_not_retried(
    emulator: OpenAIEmulator,
) -> None:
    emulator.script(OpenAIFault.stream_error(after_events=1))
    error = await failure(settings_for(emulator, stream=True))
    assert error.kind is ErrorKind.SERVER
    assert "reported an error" in error.message
    assert emulator.counters.requests[OpenAIRoute.GENERATIONS] == 1


async def test_a_stream_cut_mid_way_is_connectivity_and_not_repeated(
    emulator: OpenAIEmulator,
) -> None:
    emulator.script(OpenAIFault.stream_cut(after_events=1))
    settings = settings_for(emulator, stream=True)
    async with OpenAIBackend(settings) as backend:
        generation = backend.generate(ImageRequest(prompt="x"))
        with pytest.raises(ImageGenError) as caught:
            await generation.collect()
    assert caught.value.kind is ErrorKind.CONNECTIVITY
    assert not caught.value.retryable
    assert emulator.counters.requests[OpenAIRoute.GENERATIONS] == 1


async def _chunks(*parts: bytes):  # type: ignore[no-untyped-def]
    for part in parts:
        yield part


async def test_sse_events_are_read_across_chunk_boundaries_and_line_endings() -> None:
    stream = _chunks(
        b': comment\r\nevent: one\r\ndata: {"a":',
        b" 1}\r\n\r",
        b"\nevent: two\ndata: x\ndata: y\n\ndata: z\rtrailing-without-blank-line",
    )
    events = [e async for e in iter_events(stream, max_event_bytes=1000)]
    assert events == [ServerSentEvent("one", '{"a": 1}'), ServerSentEvent("two", "x\ny")]


async def test_an_oversized_event_is_refused() -> None:
    stream = _chunks(b"data: " + b"x" * 100, b"x" * 100)
    with pytest.raises(EventTooLarge):
        [e async for e in iter_events(stream, max_event_bytes=150)]
