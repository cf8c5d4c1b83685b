"""Images a request hands to the model: the picture to edit, references, a mask.

An :class:`InputImage` is checked when it is built, like the rest of a
request, so that bytes that are not an image, a gigapixel file or a
``file://`` URL fail before any backend opens a connection. Only the file's
header is read (by a signature check, then Pillow's lazy ``open``); nothing
is decoded, so checking costs microseconds and a decompression bomb never
allocates its pixels.
"""

from __future__ import annotations

import io
import os
import warnings
from enum import StrEnum
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imagegen_core._sizes import DEFAULT_MAX_PIXELS, ImageSize

__all__ = [
    "INPUT_MEDIA_TYPES",
    "MAX_INPUT_IMAGES",
    "MAX_INPUT_IMAGE_BYTES",
    "MAX_INPUT_IMAGE_PIXELS",
    "ImageRole",
    "InputImage",
]

MAX_INPUT_IMAGES = 16
"""Most input images one request may carry, before any backend's own, lower,
limit (OpenAI's image edits take 16, the most of any provider we know)."""

MAX_INPUT_IMAGE_BYTES = 50 * 1024 * 1024
"""Largest encoded input image, in bytes: the largest any provider we know
accepts per image (OpenAI's 50 MB); a backend with a lower limit says so."""

MAX_INPUT_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
"""Largest input image, in pixels: the same cap as for generated images."""

_MAX_URL_LENGTH = 8192

# File signatures of the formats image providers accept, and where in the
# file they sit. Pillow reads many more formats (TIFF, PSD, ...), but a
# provider would refuse those after an upload; refusing them here is cheaper.
_SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("image/png", 0, b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", 0, b"\xff\xd8\xff"),
    ("image/gif", 0, b"GIF87a"),
    ("image/gif", 0, b"GIF89a"),
    ("image/webp", 8, b"WEBP"),  # after "RIFF" and a length
)
_PILLOW_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}

INPUT_MEDIA_TYPES = frozenset(_PILLOW_FORMATS.values())
"""Media types an input image may have."""


class ImageRole(StrEnum):
    """What the model should do with an input image."""

    EDIT = "edit"
    """The image to change: the edit keeps its content except what the prompt asks."""
    REFERENCE = "reference"
    """A style or subject to draw from; the result is a new picture."""


class InputImage(BaseModel):
    """One image given to the model, as encoded bytes or an http(s) URL.

    Exactly one of ``data`` and ``url`` is set. For bytes, ``media_type`` and
    ``size`` are read from the file's header (a value you pass must agree with
    it); for a URL they are whatever you know, or None. ``repr`` shows the
    byte count, never the bytes.

    Raises:
        pydantic.ValidationError: Bytes that are not a PNG, JPEG, WebP or GIF
            image, an image over :data:`MAX_INPUT_IMAGE_BYTES` or
            :data:`MAX_INPUT_IMAGE_PIXELS`, a URL that is not http(s), or a
            ``media_type``/``size`` that contradicts the file.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    data: bytes | None = Field(default=None, description="The encoded image file.")
    url: str | None = Field(default=None, description="An http(s) URL the provider can fetch.")
    media_type: str | None = Field(default=None, description="MIME type, e.g. 'image/png'.")
    size: ImageSize | None = Field(default=None, description="Pixel size, when known.")
    role: ImageRole = Field(default=ImageRole.EDIT, description="What the model does with it.")

    @field_validator("data")
    @classmethod
    def _check_data_length(cls, data: bytes | None) -> bytes | None:
        if data is not None and len(data) > MAX_INPUT_IMAGE_BYTES:
            raise ValueError(
                f"input image is {len(data):,} bytes; the maximum is {MAX_INPUT_IMAGE_BYTES:,}"
            )
        if data is not None and not data:
            raise ValueError("input image data is empty")
        return data

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if len(url) > _MAX_URL_LENGTH:
            raise ValueError(f"input image URL is longer than {_MAX_URL_LENGTH} characters")
        parts = urlsplit(url.strip())
        if parts.scheme.lower() == "data":
            raise ValueError(
                "input image URL is a data: URL; pass its bytes as data "
                "(imagegen_core.decode_data_url decodes it)"
            )
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"input image URL must be http(s) with a host, got scheme {parts.scheme!r}"
            )
        if parts.username is not None or parts.password is not None:
            raise ValueError("input image URL must not carry credentials (user:password@)")
        return url.strip()

    @field_validator("media_type")
    @classmethod
    def _check_media_type(cls, media_type: str | None) -> str | None:
        if media_type is None:
            return None
        normalised = media_type.split(";")[0].strip().lower()
        normalised = {"image/jpg": "image/jpeg"}.get(normalised, normalised)
        if normalised not in INPUT_MEDIA_TYPES:
            known = ", ".join(sorted(INPUT_MEDIA_TYPES))
            raise ValueError(f"input media_type {media_type!r} is not one of: {known}")
        return normalised

    @field_validator("size", mode="before")
    @classmethod
    def _check_size(cls, value: Any) -> ImageSize | None:
        if value is None:
            return None
        return ImageSize.parse(tuple(value) if isinstance(value, list) else value)

    @model_validator(mode="after")
    def _check_file(self) -> Self:
        if (self.data is None) == (self.url is None):
            raise ValueError("an input image holds exactly one of data or url")
        if self.data is None:
            return self
        media_type, size = _read_header(self.data)
        if self.media_type is not None and self.media_type != media_type:
            raise ValueError(f"media_type says {self.media_type} but the bytes are {media_type}")
        if self.size is not None and self.size != size:
            raise ValueError(f"size says {self.size} but the image is {size}")
        # Frozen model: fill in what the header told us, once, at validation.
        object.__setattr__(self, "media_type", media_type)
        object.__setattr__(self, "size", size)
        return self

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, role: ImageRole = ImageRole.EDIT) -> Self:
        """Read an image file, refusing one over the byte cap before reading it.

        Raises:
            OSError: The file cannot be read.
            pydantic.ValidationError: The file is not an acceptable image.
        """
        with open(path, "rb") as file:
            data = file.read(MAX_INPUT_IMAGE_BYTES + 1)
        return cls(data=data, role=role)

    def __repr__(self) -> str:
        # Never dump image bytes into logs.
        body = f"data=<{len(self.data)} bytes>" if self.data is not None else f"url={self.url!r}"
        size = str(self.size) if self.size is not None else None
        return (
            f"InputImage({body}, media_type={self.media_type!r}, size={size!r}, "
            f"role={self.role.value!r})"
        )

    __str__ = __repr__


def _sniff(data: bytes) -> str | None:
    for media_type, offset, signature in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            if media_type == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return media_type
    return None


def _read_header(data: bytes) -> tuple[str, ImageSize]:
    """The media type and size from an encoded file's header, or ValueError."""
    sniffed = _sniff(data)
    if sniffed is None:
        raise ValueError(
            f"input image data ({len(data):,} bytes) is not a PNG, JPEG, WebP or GIF file"
        )
    # Pillow is imported here, not at module level: `import imagegen_core`
    # stays free of Pillow for apps that never pass input images.
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns (and above twice its limit, raises) about huge
            # images while reading the header; our own, lower cap decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                width, height = image.size
                pillow_format = image.format
    except Image.DecompressionBombError:
        raise ValueError(
            f"input image declares more than {MAX_INPUT_IMAGE_PIXELS:,} pixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(
            f"input image data starts like {sniffed} but its header is unreadable "
            f"({type(exc).__name__})"
        ) from None
    if _PILLOW_FORMATS.get(pillow_format or "") != sniffed:
        raise ValueError(f"input image data starts like {sniffed} but reads as {pillow_format}")
    if width * height > MAX_INPUT_IMAGE_PIXELS:
        raise ValueError(
            f"input image is {width}x{height} ({width * height:,} pixels), more than the "
            f"limit of {MAX_INPUT_IMAGE_PIXELS:,}"
        )
    return sniffed, ImageSize(width, height)
