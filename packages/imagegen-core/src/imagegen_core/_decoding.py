"""Turning encoded image files into raw pixels, safely.

Pipecat transports want raw pixel bytes plus a PIL mode, not PNG or WebP
files, so every image a backend returns is decoded once. The bytes come from a
remote provider, so decoding treats them as untrusted: a file that declares
more pixels than :data:`DEFAULT_MAX_PIXELS` (or the caller's limit) is refused
*before* Pillow allocates memory for it, and Pillow's own decompression-bomb
signals become ordinary :class:`~imagegen_core.ImageGenError` exceptions
instead of crashing the caller.

Decoding is CPU-bound and synchronous on purpose; callers on an event loop
await :func:`decode_off_loop`, which runs it in the process's one decode
thread. One, not a thread per image: Pillow holds the GIL for stretches of
every decode, and with several decode threads the loop thread queues behind
all of them for the GIL, so a real-time loop (audio every 20 ms) stalls for
tens of milliseconds while images decode. One worker gives the loop the GIL
back within a switch interval. docs/performance.md has the measured options
(unbounded threads, one and two threads, a process pool) against each other.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType

from PIL import Image, UnidentifiedImageError

from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._sizes import DEFAULT_MAX_PIXELS, ImageSize

__all__ = [
    "DEFAULT_BACKGROUND",
    "DEFAULT_MAX_PIXELS",
    "PIXEL_MODES",
    "DecodedImage",
    "channels_of",
    "decode_image",
    "decode_off_loop",
]

_DECODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imagegen-decode")
"""Every image the process decodes off its event loops, one at a time (see the
module's docstring). Its thread starts on the first decode, not at import."""

PIXEL_MODES: MappingProxyType[str, int] = MappingProxyType({"RGB": 3, "RGBA": 4, "L": 1})
"""PIL modes an image can be decoded to, with their bytes per pixel."""

DEFAULT_BACKGROUND: tuple[int, int, int] = (255, 255, 255)
"""Colour transparent pixels are flattened onto when the target mode has no
alpha: white, because generated images with transparency are mostly stickers
and logos drawn for a light page."""

# Modes whose pixels carry their own alpha channel.
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """Raw pixels of one image.

    Args:
        pixels: Row-major pixel bytes, ``size.width * size.height * channels`` long.
        size: Width and height in pixels.
        mode: The PIL mode of ``pixels`` (``"RGB"``, ``"RGBA"`` or ``"L"``).
        source_format: The file format the pixels were decoded from (``"PNG"``),
            when Pillow recognised it.
    """

    pixels: bytes
    size: ImageSize
    mode: str
    source_format: str | None = None

    def __repr__(self) -> str:
        # Never dump pixel data into logs.
        return (
            f"DecodedImage(<{len(self.pixels)} bytes>, size={self.size}, mode={self.mode!r}, "
            f"source_format={self.source_format!r})"
        )


def channels_of(mode: str) -> int:
    """Bytes per pixel of a supported mode.

    Raises:
        ValueError: ``mode`` is not one of :data:`PIXEL_MODES`.
    """
    try:
        return PIXEL_MODES[mode]
    except KeyError:
        known = ", ".join(PIXEL_MODES)
        raise ValueError(f"unsupported pixel mode {mode!r}; choose one of: {known}") from None


def decode_image(
    data: bytes,
    *,
    mode: str = "RGB",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = DEFAULT_BACKGROUND,
) -> DecodedImage:
    """Decode an encoded image file into raw pixels of one mode.

    Animated files yield their first frame. Transparency is kept for ``RGBA``
    and flattened onto ``background`` for modes without alpha.

    Args:
        data: The encoded file (PNG, JPEG, WebP, GIF, ...).
        mode: Target PIL mode, one of :data:`PIXEL_MODES`.
        max_pixels: Refuse images with more pixels than this.
        background: RGB colour transparent pixels are flattened onto.

    Raises:
        ValueError: ``mode`` is not supported or ``max_pixels`` is not positive.
        ImageGenError: ``invalid_request`` when the image is larger than
            ``max_pixels`` (the limit, or the settings asking for such large
            images, must change); ``server`` when the data is not a decodable
            image (the provider sent something broken).
    """
    channels = channels_of(mode)
    if max_pixels < 1:
        raise ValueError("max_pixels must be positive")
    try:
        # Image.open reads only the header; the pixels are decoded by load().
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            _check_pixel_count(width, height, max_pixels)
            image.seek(0)
            image.load()
            pixels = _convert(image, mode, background).tobytes()
            source_format = image.format
    except ImageGenError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own, global limit fired (the warning arrives as an exception
        # when warnings are errors); our limit is then the larger one.
        raise ImageGenError(
            f"image refused as a possible decompression bomb: {exc}",
            kind=ErrorKind.INVALID_REQUEST,
            retryable=False,
        ) from None
    except UnidentifiedImageError:
        raise ImageGenError(
            f"the {len(data)} bytes received are not an image format Pillow can read",
            kind=ErrorKind.SERVER,
            retryable=False,
        ) from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, ... on bad data
        raise ImageGenError(
            f"the image could not be decoded ({type(exc).__name__}: {exc})",
            kind=ErrorKind.SERVER,
            retryable=False,
        ) from None
    expected = width * height * channels
    if len(pixels) != expected:  # pragma: no cover - Pillow guarantees this for these modes
        raise ImageGenError(
            f"decoded {len(pixels)} bytes for a {width}x{height} {mode} image; expected {expected}",
            kind=ErrorKind.UNKNOWN,
        )
    return DecodedImage(pixels, ImageSize(width, height), mode, source_format)


async def decode_off_loop(
    data: bytes,
    *,
    mode: str = "RGB",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = DEFAULT_BACKGROUND,
) -> DecodedImage:
    """:func:`decode_image` in the process's decode thread, one image at a time.

    Decodes queue in the order they are asked for; one cancelled before its
    turn never runs. Arguments and errors are those of :func:`decode_image`.
    """
    loop = asyncio.get_running_loop()
    job = partial(decode_image, data, mode=mode, max_pixels=max_pixels, background=background)
    return await loop.run_in_executor(_DECODER, job)


def _check_pixel_count(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageGenError(
            f"image is {width}x{height} ({width * height:,} pixels), more than the limit of "
            f"{max_pixels:,} pixels (max_pixels)",
            kind=ErrorKind.INVALID_REQUEST,
            retryable=False,
        )


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _convert(image: Image.Image, mode: str, background: tuple[int, int, int]) -> Image.Image:
    if not _has_alpha(image):
        return image if image.mode == mode else image.convert(mode)
    rgba = image.convert("RGBA")
    if mode == "RGBA":
        return rgba
    canvas = Image.new("RGBA", rgba.size, (*background, 255))
    return Image.alpha_composite(canvas, rgba).convert(mode)
