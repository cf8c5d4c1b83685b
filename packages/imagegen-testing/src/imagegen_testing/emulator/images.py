"""Images in and out: rendering (cached), data URLs, reading input images, broken bytes.

Pictures come from the fake backend's renderer so there is one definition of
"a deterministic test image" in the project. Encoding a one-megapixel WebP
costs about a third of a second of CPU, so renders are cached by everything
that determines their bytes and run off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image

from imagegen_core import ImageSize, OutputFormat
from imagegen_testing.fake.images import render_test_image

__all__ = [
    "RenderJob",
    "corrupt",
    "data_url",
    "decode_data_url",
    "image_size_of",
    "inputs_digest",
    "render",
]

_DATA_URL = re.compile(r"^data:(?P<type>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<data>.*)$", re.DOTALL)

_MAGIC_BYTES = 16
"""Bytes kept by :func:`corrupt`: enough for any sniffer to recognise the format."""


@functools.lru_cache(maxsize=128)
def _render(seed_text: str, size: ImageSize, image_format: OutputFormat, quality: int) -> bytes:
    return render_test_image(
        seed_text=seed_text, size=size, output_format=image_format, quality=quality
    )


@dataclass(frozen=True)
class RenderJob:
    """Everything that determines a prediction's output bytes."""

    prompt: str
    seed: int
    size: ImageSize
    image_format: OutputFormat
    quality: int
    inputs_digest: str = ""
    """A digest of the input images: an edit of another picture is another picture."""

    def render(self, label: str) -> bytes:
        """Encode the picture called ``label`` (``"0"``, ``"1"``... or ``"preview-2"``)."""
        text = f"{self.prompt}\x00{self.seed}\x00{label}\x00{self.inputs_digest}"
        return _render(text, self.size, self.image_format, self.quality)


def inputs_digest(images: Iterable[bytes]) -> str:
    """A short digest of input images, in order."""
    digest = hashlib.sha256()
    for data in images:
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


async def render(job: RenderJob, labels: Iterable[str]) -> list[bytes]:
    """Encode one picture per label, in a worker thread."""
    names = list(labels)
    return await asyncio.to_thread(lambda: [job.render(label) for label in names])


def data_url(data: bytes, media_type: str) -> str:
    """``data:<type>;base64,...`` for ``data``, as Replicate's sync replies carried them."""
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def corrupt(data: bytes) -> bytes:
    """Same length and magic number as ``data``, but nothing a decoder accepts."""
    junk = bytes((index * 131 + 7) % 256 for index in range(max(0, len(data) - _MAGIC_BYTES)))
    return data[:_MAGIC_BYTES] + junk


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:`` URL (base64 or percent-free plain text).

    Raises:
        ValueError: Not a well-formed ``data:`` URL.
    """
    match = _DATA_URL.match(url)
    if match is None:
        raise ValueError("not a data: URL")
    if ";base64" not in match["params"]:
        return match["data"].encode()
    try:
        return base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the data: URL is not valid base64") from None


def image_size_of(data: bytes) -> ImageSize:
    """The pixel size of encoded image ``data``.

    Raises:
        ValueError: No decoder accepts the bytes.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return ImageSize(*image.size)
    except Exception as exc:  # PIL raises many types for bad data
        raise ValueError(f"cannot identify image file ({type(exc).__name__})") from None
