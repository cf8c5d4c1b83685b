"""Keeping image bodies in cassettes tiny without making them lie.

A recorded 1024x1024 WebP is hundreds of kilobytes, base64-encoded once more in
YAML; a dozen cassettes would bloat every clone and wheel. Truncating the bytes
would break the very tests that replay them (they decode the image and check
its format and pixel size), so instead each image is re-encoded as a flat
picture of the same format, mode and pixel size, filled with the original's
average colour. A flat picture compresses to a few hundred bytes in every
format, still decodes, still has the promised size, and different prompts
still give (usually) different colours.
"""

from __future__ import annotations

import base64
import io
import warnings
from typing import Final

from PIL import Image, UnidentifiedImageError

__all__ = [
    "MAX_SHRINK_PIXELS",
    "SMALL_ENOUGH",
    "shrink_base64_image",
    "shrink_data_url",
    "shrink_image",
]

SMALL_ENOUGH: Final = 8 * 1024
"""Bodies of at most this many bytes are kept as they are. Besides sparing tiny
images, this makes shrinking free on replay: vcrpy runs the recording hooks
again over every interaction of a cassette it loads, and an already shrunk
image is always this small."""

MAX_SHRINK_PIXELS: Final = 4096 * 4096
"""Larger images are kept as recorded: re-encoding them would cost a lot of
memory, and no generation test needs them (decompression-bomb fixtures, say)."""

_FORMATS: Final = {"PNG", "JPEG", "WEBP", "GIF"}
_KEPT_MODES: Final = {"1", "L", "LA", "RGB", "RGBA"}


def shrink_image(data: bytes) -> bytes | None:
    """Re-encode an image as a flat one of the same format, mode and size.

    Returns:
        The smaller encoding; the original bytes when they are already
        :data:`SMALL_ENOUGH` or re-encoding would not be smaller; or None when
        ``data`` is not an image Pillow reads (corrupt bytes are left for the
        caller to keep as they are).
    """
    if len(data) <= SMALL_ENOUGH:
        return data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                size = image.size
                if image_format not in _FORMATS or size[0] * size[1] > MAX_SHRINK_PIXELS:
                    return None
                mode = image.mode if image.mode in _KEPT_MODES else _fallback_mode(image)
                colour = image.convert(mode).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    flat = Image.new(mode, size, colour)
    if image_format == "JPEG" and mode not in {"L", "RGB"}:
        flat = flat.convert("RGB")
    buffer = io.BytesIO()
    # Settings chosen for speed as much as size: a flat picture compresses to
    # almost nothing at any effort, and WebP's top effort costs a second.
    if image_format == "PNG":
        flat.save(buffer, "PNG", compress_level=9)
    elif image_format == "WEBP":
        flat.save(buffer, "WEBP", lossless=True, quality=0, method=0)
    elif image_format == "JPEG":
        flat.save(buffer, "JPEG", quality=20, optimize=True)
    else:
        flat.save(buffer, image_format)
    shrunk = buffer.getvalue()
    return shrunk if len(shrunk) < len(data) else data


def _fallback_mode(image: Image.Image) -> str:
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return "RGBA" if has_alpha else "RGB"


def shrink_data_url(url: str) -> str:
    """Shrink the image inside a base64 ``data:image/...`` URL; anything else is returned as is."""
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:image/") or ";base64" not in header:
        return url
    return f"{header},{shrink_base64_image(payload)}"


def shrink_base64_image(payload: str) -> str:
    """Shrink a base64-encoded image (OpenAI's ``b64_json``); anything else is returned as is."""
    try:
        data = base64.b64decode(payload, validate=True)
    except ValueError:
        return payload
    shrunk = shrink_image(data)
    if shrunk is None or shrunk is data:
        return payload
    return base64.b64encode(shrunk).decode("ascii")
