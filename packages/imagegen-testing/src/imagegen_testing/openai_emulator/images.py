"""Pictures the emulator returns, previews of them, and checks of uploaded images.

Final images come from the fake backend's renderer (one definition of a
deterministic test picture in the project), seeded by the prompt, the image's
index and, for edits, the uploaded images, so an edit of different inputs
gives a different picture. A transparent background makes the renderer's
background colour transparent. Partial previews are the final picture at a
coarser resolution, sharper with each preview, encoded in the same format and
size: what a client needs to show progress (OpenAI's previews are its model's
intermediate states; the emulator cannot have those). Rendering runs in a
worker thread and is cached, since a 1536x1024 PNG costs tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageChops, UnidentifiedImageError

from imagegen_core import ImageSize, OutputFormat
from imagegen_testing.fake.images import render_test_image

__all__ = ["Upload", "UploadError", "inspect_upload", "render", "render_preview"]

_PIL_FORMATS = {"PNG": OutputFormat.PNG, "JPEG": OutputFormat.JPEG, "WEBP": OutputFormat.WEBP}
_PIL_NAMES = {OutputFormat.PNG: "PNG", OutputFormat.JPEG: "JPEG", OutputFormat.WEBP: "WEBP"}


@functools.lru_cache(maxsize=64)
def _render(
    seed_text: str,
    size: ImageSize,
    output_format: OutputFormat,
    compression: int,
    transparent: bool,
) -> bytes:
    quality = max(1, 100 - compression)
    data = render_test_image(
        seed_text=seed_text, size=size, output_format=output_format, quality=quality
    )
    if not transparent:
        return data
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    background = Image.new("RGB", rgb.size, rgb.getpixel((0, 0)))
    alpha = ImageChops.difference(rgb, background).convert("L").point(lambda v: 255 if v else 0)
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    return _encode(rgba, output_format, quality)


def _encode(image: Image.Image, output_format: OutputFormat, quality: int) -> bytes:
    buffer = io.BytesIO()
    if output_format is OutputFormat.PNG:
        image.save(buffer, "PNG")
    else:
        image.save(buffer, _PIL_NAMES[output_format], quality=quality)
    return buffer.getvalue()


@functools.lru_cache(maxsize=64)
def _preview(final: bytes, step: int, steps: int, output_format: OutputFormat) -> bytes:
    with Image.open(io.BytesIO(final)) as image:
        image.load()
        factor = 2 ** (steps - step + 2)
        small = image.resize(
            (max(1, image.width // factor), max(1, image.height // factor)),
            Image.Resampling.BOX,
        )
        coarse = small.resize(image.size, Image.Resampling.NEAREST)
    return _encode(coarse, output_format, 60)


async def render(
    seed_text: str,
    size: ImageSize,
    output_format: OutputFormat,
    *,
    compression: int = 0,
    transparent: bool = False,
) -> bytes:
    """The final image, encoded, off the event loop."""
    return await asyncio.to_thread(
        _render, seed_text, size, output_format, compression, transparent
    )


async def render_preview(final: bytes, step: int, steps: int, output_format: OutputFormat) -> bytes:
    """Preview ``step`` (0-based) of ``steps``: ``final`` at a coarser resolution."""
    return await asyncio.to_thread(_preview, final, step, steps, output_format)


class UploadError(ValueError):
    """An uploaded image the API refuses; ``param`` names the form field."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Upload:
    """An uploaded image the emulator accepted."""

    field: str
    filename: str | None
    content_type: str | None
    format: OutputFormat
    size: ImageSize
    has_alpha: bool
    digest: str
    bytes: int


def inspect_upload(
    field: str, filename: str | None, content_type: str | None, data: bytes, *, max_bytes: int
) -> Upload:
    """Decode an uploaded image far enough to check it.

    Raises:
        UploadError: Too large, or not a PNG, JPEG or WebP image.
    """
    if len(data) > max_bytes:
        raise UploadError(field, f"Uploaded image must be less than {max_bytes // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = _PIL_FORMATS.get(image.format or "")
                size = ImageSize(*image.size)
                has_alpha = "A" in image.getbands() or "transparency" in image.info
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombWarning):
        raise UploadError(
            field, "Invalid image file or mode for image, please check your image file."
        ) from None
    if image_format is None:
        raise UploadError(field, "Invalid file format. Supported formats are: png, jpeg, webp.")
    return Upload(
        field=field,
        filename=filename,
        content_type=content_type,
        format=image_format,
        size=size,
        has_alpha=has_alpha,
        digest=hashlib.sha256(data).hexdigest()[:16],
        bytes=len(data),
    )
