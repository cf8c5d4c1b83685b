"""Edits: several input images, a mask on the first, input_fidelity, URL inputs, limits."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagegen_core import ErrorKind, ImageGenError, ImageRequest, ImageRole, InputImage
from imagegen_openai import OpenAIBackend
from imagegen_openai._uploads import openai_mask
from imagegen_testing.openai_emulator import OpenAIEmulator, OpenAIRoute

from .conftest import failure, settings_for


def encoded(
    size: tuple[int, int], colour: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG"
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def half_white_mask(size: tuple[int, int]) -> bytes:
    mask = Image.new("L", size, 0)
    mask.paste(255, (0, 0, size[0] // 2, size[1]))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


async def test_an_edit_sends_every_image_and_the_mask_applies_to_the_edit_image(
    emulator: OpenAIEmulator,
) -> None:
    reference = InputImage(data=encoded((64, 64), (0, 0, 200)), role=ImageRole.REFERENCE)
    target = InputImage(data=encoded((300, 200)))
    request = ImageRequest(
        prompt="paint the left half in the reference's style",
        images=(reference, target),
        mask=InputImage(data=half_white_mask((300, 200))),
    )
    async with OpenAIBackend(settings_for(emulator, input_fidelity="high")) as backend:
        [image] = await backend.generate(request).collect()
    assert image.data
    assert image.size is not None
    [sent] = emulator.requests
    assert sent.route is OpenAIRoute.EDITS
    assert [upload.size for upload in sent.uploads] == [(300, 200), (64, 64)], "edit image first"
    assert [upload.field for upload in sent.uploads] == ["image[]", "image[]"]
    assert sent.mask is not None
    assert sent.mask.has_alpha
    assert sent.fields["input_fidelity"] == "high"
    assert image.metadata["usage"]["input_tokens_details"]["image_tokens"] > 0


def test_the_mask_is_turned_into_openai_s_alpha_mask() -> None:
    converted = openai_mask(half_white_mask((8, 4)), size=(8, 4))  # type: ignore[arg-type]
    with Image.open(io.BytesIO(converted)) as mask:
        assert mask.format == "PNG"
        assert mask.mode == "RGBA"
        alpha = mask.getchannel("A")
        assert alpha.getpixel((0, 0)) == 0, "white (repaint) becomes transparent (edit here)"
        assert alpha.getpixel((7, 0)) == 255, "black (keep) stays opaque"


async def test_one_image_goes_as_image(emulator: OpenAIEmulator) -> None:
    request = ImageRequest(prompt="x", images=(InputImage(data=encoded((32, 32))),))
    async with OpenAIBackend(settings_for(emulator)) as backend:
        await backend.generate(request).collect()
    assert [u.field for u in emulator.requests[0].uploads] == ["image"]


async def test_url_inputs_are_fetched_and_uploaded(emulator: OpenAIEmulator) -> None:
    # A DALL-E link from the emulator serves as a URL input image.
    async with OpenAIBackend(
        settings_for(emulator, model="dall-e-2", response_format="url")
    ) as backend:
        [linked] = await backend.generate(ImageRequest(prompt="x", size="256x256")).collect()
        assert linked.url is not None
        request = ImageRequest(prompt="now at night", images=(linked.as_input(),))
        [edited] = await backend.generate(request).collect()
    assert edited.url is not None
    [_, sent] = emulator.requests
    assert sent.route is OpenAIRoute.EDITS
    assert sent.uploads[0].size == (256, 256)


def test_gif_inputs_are_refused_before_any_request() -> None:
    gif = InputImage(data=encoded((16, 16), fmt="GIF"))
    with pytest.raises(ImageGenError) as caught:
        OpenAIBackend().generate(ImageRequest(prompt="x", images=(gif,)))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "png" in caught.value.message


def test_dall_e_2_edits_one_square_png() -> None:
    backend = OpenAIBackend({"model": "dall-e-2"})
    assert backend.capabilities.max_input_images == 1
    with pytest.raises(ImageGenError, match="square"):
        backend.generate(ImageRequest(prompt="x", images=(InputImage(data=encoded((30, 20))),)))
    with pytest.raises(ImageGenError):
        backend.generate(
            ImageRequest(
                prompt="x",
                images=(
                    InputImage(data=encoded((16, 16))),
                    InputImage(data=encoded((16, 16))),
                ),
            )
        )


def test_dall_e_3_takes_no_input_images() -> None:
    backend = OpenAIBackend({"model": "dall-e-3"})
    with pytest.raises(ImageGenError) as caught:
        backend.generate(ImageRequest(prompt="x", images=(InputImage(data=encoded((16, 16))),)))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST


def test_input_fidelity_the_model_lacks_is_refused() -> None:
    backend = OpenAIBackend({"model": "gpt-image-1-mini", "input_fidelity": "high"})
    with pytest.raises(ImageGenError) as caught:
        backend.generate(ImageRequest(prompt="x", images=(InputImage(data=encoded((16, 16))),)))
    assert caught.value.message.startswith("input_fidelity:")


async def test_an_edit_the_api_refuses_is_invalid_request(emulator: OpenAIEmulator) -> None:
    # An unknown model name passes the backend's checks (it gets the GPT image
    # profile); the API's refusal comes back as invalid_request with its wording.
    request = ImageRequest(
        prompt="x", images=tuple(InputImage(data=encoded((16, 16))) for _ in range(2))
    )
    error = await failure(settings_for(emulator, model="my-proxy-model"), request)
    assert error.kind is ErrorKind.INVALID_REQUEST
    assert "model" in error.message


async def test_capabilities_declare_inputs_and_mask() -> None:
    capabilities = OpenAIBackend().capabilities
    assert capabilities.max_input_images == 16
    assert capabilities.supports_mask
    assert capabilities.input_roles == frozenset(ImageRole)
