"""Decoding encoded images into raw pixels, including hostile input."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import pytest
from PIL import Image

from imagegen_core._decoding import (
    DEFAULT_MAX_PIXELS,
    PIXEL_MODES,
    channels_of,
    declared_pixels,
    decode_image,
)
from imagegen_core._errors import ErrorKind, ImageGenError


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but carries almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def test_rgb_png_gives_exact_pixels() -> None:
    image = Image.new("RGB", (3, 2), (10, 20, 30))
    image.putpixel((2, 1), (200, 100, 50))
    decoded = decode_image(encode(image))
    assert decoded.mode == "RGB"
    assert decoded.size == (3, 2)
    assert len(decoded.pixels) == 3 * 2 * 3
    assert decoded.pixels[:3] == bytes((10, 20, 30))
    assert decoded.pixels[-3:] == bytes((200, 100, 50))
    assert decoded.source_format == "PNG"


@pytest.mark.parametrize("mode", sorted(PIXEL_MODES))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_every_mode_from_every_format_has_the_right_length(mode: str, fmt: str) -> None:
    image = Image.new("RGB", (17, 9), (0, 128, 255))
    decoded = decode_image(encode(image, fmt), mode=mode)
    assert decoded.mode == mode
    assert decoded.size == (17, 9)
    assert len(decoded.pixels) == 17 * 9 * channels_of(mode)


def test_transparency_is_flattened_onto_white_for_rgb() -> None:
    image = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    image.putpixel((1, 0), (255, 0, 0, 128))
    decoded = decode_image(encode(image))
    assert decoded.pixels[:3] == b"\xff\xff\xff"
    red, green, blue = decoded.pixels[3:6]
    assert red == 255
    assert 120 <= green <= 135
    assert green == blue


def test_transparency_is_kept_for_rgba() -> None:
    image = Image.new("RGBA", (1, 1), (1, 2, 3, 4))
    assert decode_image(encode(image), mode="RGBA").pixels == bytes((1, 2, 3, 4))


def test_palette_transparency_is_flattened_onto_the_background() -> None:
    image = Image.new("P", (2, 1), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((1, 0), 1)
    data = encode(image, transparency=0)
    decoded = decode_image(data, background=(0, 255, 0))
    assert decoded.pixels == bytes((0, 255, 0, 255, 0, 0))


def test_animated_image_gives_the_first_frame() -> None:
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(buffer.getvalue())
    assert decoded.pixels[:3] == b"\xff\x00\x00"


def test_more_pixels_than_the_limit_is_refused_before_decoding() -> None:
    data = png_header_only(5_000, 5_000)  # 25 MP declared; the pixel data is not there
    with pytest.raises(ImageGenError) as caught:
        decode_image(data, max_pixels=1_000_000)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "max_pixels" in caught.value.message
    assert not caught.value.retryable


def test_default_limit_refuses_a_bomb_below_pillows_own_limit() -> None:
    # 60 MP: over our 40 MP default, under Pillow's 89 MP warning threshold.
    with pytest.raises(ImageGenError) as caught:
        decode_image(png_header_only(10_000, 6_000))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert f"{DEFAULT_MAX_PIXELS:,}" in caught.value.message


def test_pillow_decompression_bomb_error_becomes_an_image_gen_error() -> None:
    # 400 MP is over twice Pillow's MAX_IMAGE_PIXELS, so Image.open raises itself.
    with pytest.raises(ImageGenError) as caught:
        decode_image(png_header_only(20_000, 20_000), max_pixels=10**12)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "decompression bomb" in caught.value.message


def test_pillow_decompression_bomb_warning_as_error_becomes_an_image_gen_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageGenError) as caught:
            decode_image(png_header_only(10_000, 10_000), max_pixels=10**12)
    assert "decompression bomb" in caught.value.message


def test_bytes_that_are_not_an_image_are_a_server_error() -> None:
    with pytest.raises(ImageGenError) as caught:
        decode_image(b"<html>503 Service Unavailable</html>")
    assert caught.value.kind is ErrorKind.SERVER
    assert not caught.value.retryable


def test_truncated_image_is_a_server_error() -> None:
    data = encode(Image.effect_noise((64, 64), 50).convert("RGB"))
    with pytest.raises(ImageGenError) as caught:
        decode_image(data[: len(data) // 2])
    assert caught.value.kind is ErrorKind.SERVER


def test_unknown_mode_and_bad_limit_are_programming_errors() -> None:
    data = encode(Image.new("RGB", (1, 1)))
    with pytest.raises(ValueError, match="unsupported pixel mode 'CMYK'"):
        decode_image(data, mode="CMYK")
    with pytest.raises(ValueError, match="max_pixels"):
        decode_image(data, max_pixels=0)


def test_repr_does_not_dump_pixels() -> None:
    decoded = decode_image(encode(Image.new("RGB", (8, 8), (65, 65, 65))))
    assert "AAA" not in repr(decoded)
    assert "192 bytes" in repr(decoded)


async def test_decode_off_loop_decodes_small_images_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Several decodes in this process would queue the event loop behind all of them for the GIL."""
    import asyncio
    import threading
    import time

    from imagegen_core import _decode_pool, _decoding
    from imagegen_core.pixels import decode_off_loop

    real_decode = _decoding.decode_image
    running, most = 0, 0
    lock = threading.Lock()

    def slow_decode(*args: object, **kwargs: object) -> _decoding.DecodedImage:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_decode_pool, "decode_image", slow_decode)
    data = encode(Image.new("RGB", (3, 2), (9, 8, 7)))
    decoded = await asyncio.gather(*(decode_off_loop(data) for _ in range(6)))
    assert [(d.size.width, d.size.height) for d in decoded] == [(3, 2)] * 6
    assert most == 1


@pytest.mark.parametrize(
    ("mode", "params"),
    [
        ("RGB", {}),  # lossy: VP8
        ("RGB", {"lossless": True}),  # VP8L
        ("RGBA", {}),  # lossy with alpha: VP8X
        ("RGB", {"exif": b"Exif\x00\x00MM\x00*"}),  # metadata: VP8X
    ],
    ids=["VP8", "VP8L", "VP8X-alpha", "VP8X-exif"],
)
@pytest.mark.parametrize("size", [(1, 1), (17, 9), (1024, 768), (16383, 2)])
def test_declared_pixels_reads_every_webp_layout(
    mode: str, params: dict[str, object], size: tuple[int, int]
) -> None:
    data = encode(Image.new(mode, size, (1, 2, 3)), "WEBP", **params)
    assert declared_pixels(data) == size[0] * size[1]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_declared_pixels_reads_other_formats_headers(fmt: str) -> None:
    assert declared_pixels(encode(Image.new("RGB", (30, 7)), fmt)) == 210


def test_declared_pixels_of_what_is_not_an_image_is_none() -> None:
    assert declared_pixels(b"<html>503</html>") is None
    assert declared_pixels(b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 20) is None
    assert declared_pixels(png_header_only(5_000, 5_000)) == 25_000_000
