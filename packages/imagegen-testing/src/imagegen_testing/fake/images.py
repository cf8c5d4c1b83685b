"""Deterministic test pictures: same inputs, same bytes; different prompts, different pictures."""

from __future__ import annotations

import hashlib
import io
import math

from PIL import Image, ImageDraw

from imagegen_core import ImageSize, InputImage, OutputFormat

__all__ = ["edit_test_image", "input_fingerprint", "render_test_image", "size_for_aspect_ratio"]

_PIL_FORMAT = {OutputFormat.PNG: "PNG", OutputFormat.JPEG: "JPEG", OutputFormat.WEBP: "WEBP"}


def size_for_aspect_ratio(aspect_ratio: str, *, pixels: int, multiple: int = 16) -> ImageSize:
    """The size with roughly ``pixels`` pixels and the given ``W:H`` ratio.

    Sides are rounded to ``multiple``, as diffusion models do.
    """
    width_part, height_part = (int(p) for p in aspect_ratio.split(":"))
    height = math.sqrt(pixels * height_part / width_part)
    width = height * width_part / height_part
    return ImageSize(
        max(multiple, round(width / multiple) * multiple),
        max(multiple, round(height / multiple) * multiple),
    )


def render_test_image(
    *,
    seed_text: str,
    size: ImageSize,
    output_format: OutputFormat = OutputFormat.PNG,
    quality: int = 90,
) -> bytes:
    """Encode a picture whose colours and shapes derive from ``seed_text``.

    Two diagonal bands and a disc make distinct prompts visibly different and
    keep lossy formats from collapsing the picture to a flat colour.
    """
    digest = hashlib.sha256(seed_text.encode()).digest()
    return _encode(_draw(digest, size), output_format, quality)


def edit_test_image(
    source: bytes,
    *,
    seed_text: str,
    size: ImageSize,
    mask: bytes | None = None,
    output_format: OutputFormat = OutputFormat.PNG,
    quality: int = 90,
) -> bytes:
    """Encode an "edit" of ``source``: the prompt's picture painted over it.

    Without a mask the two are blended half and half, so the source stays
    visible; with one, the prompt's picture replaces the source where the
    mask is white and the source is kept where it is black, as inpainting
    models do. The result has ``size`` (the source is resized to it).
    """
    digest = hashlib.sha256(seed_text.encode()).digest()
    with Image.open(io.BytesIO(source)) as opened:
        base = opened.convert("RGB").resize(size)
    overlay = _draw(digest, size)
    if mask is None:
        edited = Image.blend(base, overlay, 0.5)
    else:
        with Image.open(io.BytesIO(mask)) as opened_mask:
            where = opened_mask.convert("L").resize(size)
        edited = Image.composite(overlay, base, where)
    return _encode(edited, output_format, quality)


def input_fingerprint(image: InputImage) -> str:
    """A short, stable description of an input image: role, size and a digest of its content."""
    content = image.data if image.data is not None else (image.url or "").encode()
    size = str(image.size) if image.size is not None else "?"
    return f"{image.role.value}:{size}:{hashlib.sha256(content).hexdigest()[:12]}"


def _draw(digest: bytes, size: ImageSize) -> Image.Image:
    background = (digest[0], digest[1], digest[2])
    band = (digest[3], digest[4], digest[5])
    disc = (digest[6], digest[7], digest[8])
    width, height = size
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    offset = digest[9] % max(1, width // 2)
    draw.polygon(
        [(offset, 0), (offset + width // 3, 0), (width, height), (width - width // 3, height)],
        fill=band,
    )
    radius = max(2, min(width, height) // (3 + digest[10] % 3))
    cx, cy = digest[11] % width, digest[12] % height
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=disc)
    return image


def _encode(image: Image.Image, output_format: OutputFormat, quality: int) -> bytes:
    buffer = io.BytesIO()
    pil_format = _PIL_FORMAT[output_format]
    if output_format is OutputFormat.PNG:
        image.save(buffer, pil_format, optimize=False)
    else:
        image.save(buffer, pil_format, quality=quality)
    return buffer.getvalue()
