"""Input images and masks: refused when the request is built, with a message naming the problem."""

from __future__ import annotations

import io
import json
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from imagegen_core import (
    MAX_INPUT_IMAGE_BYTES,
    MAX_INPUT_IMAGE_PIXELS,
    MAX_INPUT_IMAGES,
    GeneratedImage,
    ImageRequest,
    ImageRole,
    ImageSize,
    InputImage,
)


def encoded(size: tuple[int, int] = (8, 6), fmt: str = "PNG", colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``, with (almost) no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def refused(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        InputImage(**fields)
    return str(caught.value)


def request_refused(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        ImageRequest(prompt="p", **fields)
    return str(caught.value)


# -- one image ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_bytes_are_read_for_media_type_and_size(fmt: str, media_type: str) -> None:
    image = InputImage(data=encoded((12, 7), fmt))

    assert image.media_type == media_type
    assert image.size == ImageSize(12, 7)
    assert image.role is ImageRole.EDIT


def test_bytes_that_are_not_an_image_are_refused() -> None:
    assert "not a PNG, JPEG, WebP or GIF file" in refused(data=b"<html>not a picture</html>")


def test_a_format_providers_do_not_take_is_refused_even_if_pillow_reads_it() -> None:
    assert "not a PNG, JPEG, WebP or GIF file" in refused(data=encoded(fmt="TIFF"))


def test_a_signature_with_a_broken_header_is_refused() -> None:
    message = refused(data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)

    assert "header is unreadable" in message


def test_empty_bytes_are_refused() -> None:
    assert "empty" in refused(data=b"")


def test_an_image_over_the_byte_cap_is_refused_without_reading_it() -> None:
    too_big = encoded() + b"\x00" * MAX_INPUT_IMAGE_BYTES

    assert f"the maximum is {MAX_INPUT_IMAGE_BYTES:,}" in refused(data=too_big)


def test_an_image_over_the_pixel_cap_is_refused_from_its_header() -> None:
    side = int(MAX_INPUT_IMAGE_PIXELS**0.5) + 10  # under Pillow's own bomb limit

    message = refused(data=png_header_only(side, side))

    assert "more than the limit" in message


def test_a_decompression_bomb_header_is_refused_as_over_the_cap() -> None:
    message = refused(data=png_header_only(20_000, 20_000))  # past Pillow's error limit

    assert "pixels" in message


def test_declared_media_type_or_size_must_agree_with_the_file() -> None:
    assert "the bytes are image/png" in refused(data=encoded(), media_type="image/jpeg")
    assert "the image is 8x6" in refused(data=encoded(), size="9x6")
    agreed = InputImage(data=encoded(), media_type="image/PNG", size=(8, 6))
    assert agreed.media_type == "image/png"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///etc/passwd", "must be http(s)"),
        ("ftp://example.com/a.png", "must be http(s)"),
        ("https:///no-host.png", "must be http(s) with a host"),
        ("data:image/png;base64,iVBORw0KGgo=", "pass its bytes as data"),
        ("https://user:pw@example.com/a.png", "must not carry credentials"),
        ("https://example.com/" + "a" * 9000, "longer than"),
    ],
)
def test_urls_that_are_not_plain_http_are_refused(url: str, expected: str) -> None:
    assert expected in refused(url=url)


def test_an_http_url_keeps_what_the_caller_knows() -> None:
    image = InputImage(url="https://example.com/cat.jpg", media_type="image/jpg", size="640x480")

    assert image.media_type == "image/jpeg"
    assert image.size == ImageSize(640, 480)
    assert InputImage(url="http://example.com/x").size is None


def test_exactly_one_of_data_and_url() -> None:
    assert "exactly one of data or url" in refused()
    assert "exactly one of data or url" in refused(data=encoded(), url="https://example.com/a.png")


def test_unknown_media_type_is_refused() -> None:
    assert "is not one of" in refused(url="https://example.com/a", media_type="image/tiff")


def test_repr_and_errors_never_hold_the_bytes() -> None:
    data = encoded((64, 64)) + b"\x00" * 5000
    image = InputImage(data=data)
    request = ImageRequest(prompt="p", images=[image])

    assert repr(image) == (
        f"InputImage(data=<{len(data)} bytes>, media_type='image/png', size='64x64', role='edit')"
    )
    assert len(repr(request)) < 600
    assert len(refused(data=b"\x01" * 100_000)) < 1000


def test_immutable() -> None:
    image = InputImage(data=encoded())

    with pytest.raises(ValidationError):
        image.role = ImageRole.REFERENCE  # type: ignore[misc]


def test_from_file_reads_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "in.webp"
    path.write_bytes(encoded((5, 4), "WEBP"))

    image = InputImage.from_file(path, role=ImageRole.REFERENCE)

    assert (image.media_type, image.size, image.role) == ("image/webp", (5, 4), ImageRole.REFERENCE)


def test_a_generated_image_becomes_the_next_input() -> None:
    result = GeneratedImage(data=encoded((16, 16)), media_type="image/png", index=0)

    assert result.as_input().size == ImageSize(16, 16)
    assert result.as_input(ImageRole.REFERENCE).role is ImageRole.REFERENCE
    linked = GeneratedImage(url="https://replicate.delivery/x/out.webp").as_input()
    assert linked.url == "https://replicate.delivery/x/out.webp"


def test_importing_the_protocol_does_not_import_pillow() -> None:
    probe = "import sys, imagegen_core; print('PIL' in sys.modules)"
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert completed.stdout.strip() == "False"


# -- in a request ---------------------------------------------------------------------


def test_request_carries_images_and_mask_as_tuple() -> None:
    edit = InputImage(data=encoded((8, 6)))
    style = InputImage(url="https://example.com/style.png", role=ImageRole.REFERENCE)
    mask = InputImage(data=encoded((8, 6), colour="white"))

    request = ImageRequest(prompt="p", images=[style, edit], mask=mask)

    assert request.images == (style, edit)
    assert request.edit_image is edit
    assert request.mask is mask


def test_too_many_images_are_refused() -> None:
    images = [InputImage(url=f"https://example.com/{i}.png") for i in range(MAX_INPUT_IMAGES + 1)]

    assert f"at most {MAX_INPUT_IMAGES} items" in request_refused(images=images)


def test_a_mask_without_an_edit_image_is_refused() -> None:
    mask = InputImage(data=encoded())
    reference = InputImage(data=encoded(), role=ImageRole.REFERENCE)

    assert "a mask needs an image with role 'edit'" in request_refused(mask=mask)
    assert "a mask needs an image" in request_refused(mask=mask, images=[reference])


def test_a_mask_of_another_size_is_refused() -> None:
    message = request_refused(
        images=[InputImage(data=encoded((8, 6)))], mask=InputImage(data=encoded((6, 8)))
    )

    assert "the mask is 6x8 but the image it applies to is 8x6" in message


def test_a_mask_over_a_url_of_unknown_size_is_accepted() -> None:
    request = ImageRequest(
        prompt="p",
        images=[InputImage(url="https://example.com/a.png")],
        mask=InputImage(data=encoded()),
    )

    assert request.mask is not None


def test_requests_with_images_pickle_and_round_trip_through_json() -> None:
    request = ImageRequest(
        prompt="p",
        images=[
            InputImage(data=encoded((8, 6))),
            InputImage(url="https://example.com/s.png", role=ImageRole.REFERENCE, size=(4, 4)),
        ],
        mask=InputImage(data=encoded((8, 6), colour="white")),
    )

    assert pickle.loads(pickle.dumps(request)) == request  # noqa: S301 - our own bytes
    text = request.model_dump_json()
    assert ImageRequest.model_validate_json(text) == request
    assert json.loads(text)["images"][1]["role"] == "reference"
    assert ImageRequest.model_validate(request.model_dump()) == request


def test_text_only_requests_are_unchanged() -> None:
    request = ImageRequest(prompt="p")

    assert request.images == ()
    assert request.mask is None
    assert request.edit_image is None
