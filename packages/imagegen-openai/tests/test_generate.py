"""Generation against the emulator: images, metadata with token usage, URL outputs, bounds."""

from __future__ import annotations

import io

import aiohttp
import pytest
from PIL import Image

from imagegen_core import ErrorKind, ImageGenError, ImageRequest, ImageSize
from imagegen_openai import OpenAIBackend
from imagegen_openai._images import to_generated_image
from imagegen_testing.openai_emulator import OpenAIEmulator, OpenAIFault

from .conftest import failure, settings_for


async def test_several_images_in_one_call_each_with_the_calls_usage(
    emulator: OpenAIEmulator,
) -> None:
    async with OpenAIBackend(settings_for(emulator)) as backend:
        images = await backend.generate(
            ImageRequest(prompt="a fox", num_images=3, aspect_ratio="3:2")
        ).collect()
    assert [image.index for image in images] == [0, 1, 2]
    assert len({image.data for image in images}) == 3
    for image in images:
        assert image.media_type == "image/png"
        assert image.size == ImageSize(1536, 1024)
        with Image.open(io.BytesIO(image.data or b"")) as decoded:
            assert decoded.size == (1536, 1024)
        usage = image.metadata["usage"]
        assert usage["output_tokens"] == 3 * 1568
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert image.metadata["model"] == "gpt-image-1.5"
        assert image.metadata["request_id"].startswith("req_")
    [sent] = emulator.requests
    assert sent.fields["n"] == 3
    assert sent.fields["size"] == "1536x1024"
    assert emulator.counters.images_generated == 3


async def test_output_format_and_compression_reach_the_api(emulator: OpenAIEmulator) -> None:
    async with OpenAIBackend(settings_for(emulator)) as backend:
        [image] = await backend.generate(
            ImageRequest(prompt="x", output_format="jpeg", quality=40)
        ).collect()
    assert image.media_type == "image/jpeg"
    assert emulator.requests[0].fields["output_compression"] == 40


async def test_dall_e_url_outputs_are_links_and_can_be_downloaded(
    emulator: OpenAIEmulator,
) -> None:
    settings = settings_for(emulator, model="dall-e-3", response_format="url")
    async with OpenAIBackend(settings) as backend:
        [linked] = await backend.generate(ImageRequest(prompt="x")).collect()
        assert linked.url is not None
        assert linked.url.startswith(emulator.origin)
        assert linked.metadata["revised_prompt"]
        assert linked.metadata["usage"] is None
        backend.update_settings(download_outputs=True)
        [fetched] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert fetched.data is not None
    assert fetched.data.startswith(b"\x89PNG")
    assert emulator.counters.files_with_authorization == 0, "the key must not follow links"


async def test_fewer_images_than_asked_is_a_warning(emulator: OpenAIEmulator) -> None:
    emulator.script(OpenAIFault.fewer_images(1))
    async with OpenAIBackend(settings_for(emulator)) as backend:
        generation = backend.generate(ImageRequest(prompt="x", num_images=2))
        images = await generation.collect()
    assert len(images) == 1
    assert any("1 of the 2" in w.message for w in generation.warnings)


async def test_no_images_at_all_is_an_error(emulator: OpenAIEmulator) -> None:
    emulator.script(OpenAIFault.fewer_images(0))
    error = await failure(settings_for(emulator))
    assert error.kind is ErrorKind.SERVER
    assert "no images" in error.message


async def test_bytes_of_a_format_the_api_never_returns_are_a_server_error(
    emulator: OpenAIEmulator,
) -> None:
    emulator.script(OpenAIFault.bad_image())
    error = await failure(settings_for(emulator))
    assert error.kind is ErrorKind.SERVER
    assert "not a PNG, JPEG or WebP" in error.message


def test_base64_that_does_not_decode_is_a_server_error() -> None:
    with pytest.raises(ImageGenError) as caught:
        to_generated_image(
            b64_json="not base64!", url=None, index=0, output_format=None, size=None, metadata={}
        )
    assert caught.value.kind is ErrorKind.SERVER


async def test_the_callers_session_is_used_and_left_open(emulator: OpenAIEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        backend = OpenAIBackend(settings_for(emulator), session=session)
        await backend.generate(ImageRequest(prompt="x")).collect()
        await backend.aclose()
        assert not session.closed
