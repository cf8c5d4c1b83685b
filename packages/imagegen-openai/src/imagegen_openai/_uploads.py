"""The multipart body of an edit: the input images, OpenAI's kind of mask, the fields.

Two translations happen here. Input images given as URLs are fetched first
(with the core's capped :func:`~imagegen_core.http.download`): the multipart
edits endpoint takes files, not links. And the mask changes form: the
protocol's mask is a picture whose white parts are repainted and black parts
kept, while OpenAI's is a PNG whose fully transparent pixels mark the area to
edit; the mask's luminance becomes the inverse of the alpha channel, so a
white pixel is transparent (edited) and a black one opaque (kept).

The body is encoded to bytes before it is sent (aiohttp's
``MultipartWriter.as_bytes``) rather than streamed, so VCR cassettes can record
it and a retry after a throttled attempt sends the same bytes.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from PIL import Image, ImageOps

from imagegen_core import AddressPolicy, ImageSize, InputImage
from imagegen_core.http import describe_url, download
from imagegen_openai._images import media_type_of
from imagegen_openai._models import ModelProfile
from imagegen_openai._payload import UPLOAD_MEDIA_TYPES, Call, refuse
from imagegen_openai._settings import OpenAISettings
from imagegen_openai._transport import RequestBody

__all__ = ["edit_body", "openai_mask"]

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def openai_mask(mask: bytes, size: ImageSize) -> bytes:
    """The protocol's mask (white repaints) as OpenAI's (transparent repaints), a PNG of ``size``.

    Raises:
        ImageGenError: ``invalid_request`` when the mask is not the image's size.
    """
    with Image.open(io.BytesIO(mask)) as image:
        if image.size != size:
            raise refuse("mask", f"the mask is {ImageSize(*image.size)}; the image is {size}")
        luminance = image.convert("L")
    out = Image.new("RGBA", luminance.size, (0, 0, 0, 255))
    out.putalpha(ImageOps.invert(luminance))
    buffer = io.BytesIO()
    out.save(buffer, "PNG")
    return buffer.getvalue()


def _size_of(data: bytes) -> ImageSize:
    with Image.open(io.BytesIO(data)) as image:
        return ImageSize(*image.size)


async def _bytes_of(
    what: str,
    image: InputImage,
    session: aiohttp.ClientSession,
    profile: ModelProfile,
    settings: OpenAISettings,
) -> tuple[bytes, str]:
    if image.data is not None:
        return image.data, image.media_type or "image/png"
    assert image.url is not None  # an InputImage holds exactly one of data and url
    fetched = await download(
        session,
        image.url,
        max_bytes=profile.max_input_bytes,
        attempts=settings.max_attempts,
        # An input's link may come from a user: it gets the same address check.
        addresses=AddressPolicy.for_settings(settings),
    )
    media_type = media_type_of(fetched.data)
    allowed = UPLOAD_MEDIA_TYPES if profile.gpt_image else frozenset({"image/png"})
    if media_type not in allowed:
        raise refuse(
            "images",
            f"{what} at {describe_url(image.url)} is not a "
            + " or ".join(sorted(t.removeprefix("image/") for t in allowed))
            + " file",
        )
    return fetched.data, media_type


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


async def edit_body(
    call: Call,
    session: aiohttp.ClientSession,
    profile: ModelProfile,
    settings: OpenAISettings,
) -> RequestBody:
    """Fetch what must be fetched, convert the mask, and encode the form.

    Raises:
        ImageGenError: ``invalid_request`` for an input the model would refuse;
            the download's own errors for a URL input that cannot be fetched.
    """
    files: list[tuple[str, bytes, str]] = []
    for position, image in enumerate(call.images):
        data, media_type = await _bytes_of(
            f"input image {position}", image, session, profile, settings
        )
        files.append((f"image-{position}.{_EXTENSIONS[media_type]}", data, media_type))
    mask: bytes | None = None
    if call.mask is not None:
        raw, _ = await _bytes_of("the mask", call.mask, session, profile, settings)
        first = files[0][1]
        mask = await asyncio.to_thread(lambda: openai_mask(raw, _size_of(first)))
    return await _encode(call.fields, files, mask, several=len(files) > 1)


async def _encode(
    fields: Mapping[str, Any],
    files: list[tuple[str, bytes, str]],
    mask: bytes | None,
    *,
    several: bool,
) -> RequestBody:
    writer = aiohttp.MultipartWriter("form-data")
    for name, value in fields.items():
        writer.append(_text(value)).set_content_disposition("form-data", name=name)
    # "image[]" is how OpenAI's clients send a list; one image goes as "image".
    image_field = "image[]" if several else "image"
    for filename, data, media_type in files:
        part = writer.append(data, {"Content-Type": media_type})
        part.set_content_disposition("form-data", name=image_field, filename=filename)
    if mask is not None:
        part = writer.append(mask, {"Content-Type": "image/png"})
        part.set_content_disposition("form-data", name="mask", filename="mask.png")
    return RequestBody(await writer.as_bytes(), writer.content_type)
