"""Turning encoded image files into raw pixels, safely.

Pipecat transports want raw pixel bytes plus a PIL mode, not PNG or WebP
files, so every image a backend returns is decoded once. The bytes come from a
remote provider, so decoding treats them as untrusted: a file that declares
more pixels than :data:`DEFAULT_MAX_PIXELS` (or the caller's limit) is refused
*before* Pillow allocates memory for it, and Pillow's own decompression-bomb
signals become ordinary :class:`~imagegen_core.ImageGenError` exceptions
instead of crashing the caller.

Decoding is CPU-bound and synchronous on purpose: :func:`decode_image` is
the one implementation, run in a thread for small images and in a decode
worker process for large ones (:mod:`imagegen_core._decode_pool` says why and
where the line is). :func:`declared_pixels` reads only a file's header, so
that choice costs a fraction of a decode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
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
    "check_decode_arguments",
    "declared_pixels",
    "decode_image",
]

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


def check_decode_arguments(mode: str, max_pixels: int) -> int:
    """Refuse a programming error before any work is queued; return the mode's bytes per pixel.

    Raises:
        ValueError: ``mode`` is not supported or ``max_pixels`` is not positive.
    """
    channels = channels_of(mode)
    if max_pixels < 1:
        raise ValueError("max_pixels must be positive")
    return channels


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
    channels = check_decode_arguments(mode, max_pixels)
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


def declared_pixels(data: bytes) -> int | None:
    """How many pixels the file's header declares, or None when Pillow cannot read one.

    Only the header is parsed, so this costs a small fraction of
    :func:`decode_image`; a file it cannot read is left for
    :func:`decode_image` to refuse with the proper error. WebP, what most
    providers return, is read here from its first 30 bytes: Pillow's
    ``Image.open`` of a WebP builds libwebp's animation decoder, which
    demuxes the whole file and allocates its canvas while holding the GIL
    (0.6 ms for 1 MP on an idle core, 7 ms measured on a busy one), and
    Pillow's own size reader is private. Other formats go through
    ``Image.open``, which reads only their headers.
    """
    webp = _webp_size(data)
    if webp is not None:
        return webp[0] * webp[1]
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # Pillow raises many types on bad data; decode_image names them
        return None
    return width * height


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a WebP's first chunk header, or None if this is not one we can read.

    The three layouts are those of the WebP container specification: lossy
    ``VP8 `` (14-bit sizes after the key frame's start code), lossless
    ``VP8L`` (14-bit sizes minus one after its signature byte) and extended
    ``VP8X`` (24-bit canvas sizes minus one).
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(
            data[28:30], "little"
        ) & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


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
