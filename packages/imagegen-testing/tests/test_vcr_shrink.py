"""Image bodies shrink to flat pictures that keep format, mode and size."""

import base64
import io
import random

import pytest
from PIL import Image

from imagegen_testing.vcr import shrink_data_url, shrink_image
from imagegen_testing.vcr.shrink import SMALL_ENOUGH


def _noisy(fmt: str, mode: str = "RGB", size: tuple[int, int] = (256, 192)) -> bytes:
    rng = random.Random(7)
    image = Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * len(mode)))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mode"), [("PNG", "RGB"), ("PNG", "RGBA"), ("JPEG", "RGB"), ("WEBP", "RGB")]
)
def test_shrunk_image_keeps_format_mode_and_size(fmt: str, mode: str) -> None:
    original = _noisy(fmt, mode)
    shrunk = shrink_image(original)
    assert shrunk is not None
    assert len(shrunk) < len(original) / 10
    with Image.open(io.BytesIO(shrunk)) as image:
        image.load()
        assert (image.format, image.mode, image.size) == (fmt, mode, (256, 192))


def test_small_bodies_are_kept_so_replaying_a_shrunk_cassette_costs_nothing() -> None:
    small = _noisy("PNG", size=(32, 32))
    assert len(small) <= SMALL_ENOUGH
    assert shrink_image(small) is small
    shrunk = shrink_image(_noisy("WEBP", size=(1024, 1024)))
    assert shrunk is not None
    assert len(shrunk) <= SMALL_ENOUGH
    assert shrink_image(shrunk) is shrunk


def test_non_images_are_left_to_the_caller() -> None:
    assert shrink_image(b"not an image at all" * 1000) is None
    corrupt = _noisy("PNG")[:40] + bytes(SMALL_ENOUGH)  # a valid header, then garbage
    assert shrink_image(corrupt) is None


def test_data_urls_shrink_and_other_strings_pass_through() -> None:
    original = _noisy("WEBP")
    url = "data:image/webp;base64," + base64.b64encode(original).decode()
    shrunk = shrink_data_url(url)
    assert shrunk.startswith("data:image/webp;base64,")
    assert len(shrunk) < len(url) / 10
    data = base64.b64decode(shrunk.split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == ("WEBP", (256, 192))
    for untouched in ("https://x.test/a.png", "data:text/plain;base64,aGk=", "data:image/png,raw"):
        assert shrink_data_url(untouched) == untouched
