"""Turning what OpenAI returned (base64 or a link) into :class:`~imagegen_core.GeneratedImage`.

The reply is untrusted: base64 that does not decode, an image whose bytes are
no known format, a link that is not http(s), or a reply with both or neither
are ``server`` errors, never a crash. The media type comes from the bytes
themselves when they say (magic numbers), else from the format asked for.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from imagegen_core import ErrorKind, GeneratedImage, ImageGenError, ImageSize, OutputFormat

__all__ = ["media_type_of", "parse_size", "to_generated_image"]

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def media_type_of(data: bytes) -> str | None:
    """The MIME type the bytes announce by their magic number, if any we expect."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def parse_size(value: str | None) -> ImageSize | None:
    """``"1536x1024"`` as a size; None for ``auto``, absent or malformed values."""
    if not value:
        return None
    try:
        return ImageSize.parse(value)
    except ValueError:
        return None


def _server_error(message: str) -> ImageGenError:
    return ImageGenError(message, kind=ErrorKind.SERVER, retryable=False, backend="openai")


def to_generated_image(
    *,
    b64_json: str | None,
    url: str | None,
    index: int,
    output_format: OutputFormat | None,
    size: ImageSize | None,
    metadata: Mapping[str, Any],
) -> GeneratedImage:
    """One image from one ``data`` entry or ``completed`` event.

    Raises:
        ImageGenError: ``server`` when the entry carries no usable image.
    """
    if b64_json is not None:
        try:
            data = base64.b64decode(b64_json, validate=True)
        except (binascii.Error, ValueError):
            raise _server_error(f"image {index} in OpenAI's reply is not valid base64") from None
        media_type = media_type_of(data)
        if media_type is None:
            raise _server_error(f"image {index} in OpenAI's reply is not a PNG, JPEG or WebP file")
        return GeneratedImage(
            data=data, media_type=media_type, size=size, index=index, metadata=metadata
        )
    if url is not None:
        if not url.lower().startswith(("https://", "http://")):
            raise _server_error(f"image {index} in OpenAI's reply has a link that is not http(s)")
        media_type = output_format.media_type if output_format is not None else "image/png"
        return GeneratedImage(
            url=url, media_type=media_type, size=size, index=index, metadata=metadata
        )
    raise _server_error(f"image {index} in OpenAI's reply has neither b64_json nor url")
