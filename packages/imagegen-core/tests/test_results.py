"""GeneratedImage, GenerationWarning and decode_data_url."""

from __future__ import annotations

import base64

import pytest

from imagegen_core import GeneratedImage, GenerationWarning, ImageSize, WarningKind, decode_data_url

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_data_url_base64() -> None:
    payload = PNG_SIGNATURE + b"rest"
    url = "data:Image/PNG;base64," + base64.b64encode(payload).decode()

    assert decode_data_url(url) == (payload, "image/png")


def test_data_url_percent_encoded_without_media_type() -> None:
    assert decode_data_url("data:,hello%20world") == (b"hello world", None)


def test_data_url_with_parameters_before_base64() -> None:
    url = "data:image/webp;name=x.webp;base64," + base64.b64encode(b"RIFF").decode()

    assert decode_data_url(url) == (b"RIFF", "image/webp")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.invalid/a.png", "not a data: URL"),
        ("data:image/png;base64", "no ','"),
        ("data:image/png;base64,not*base64", "not valid base64"),
    ],
)
def test_malformed_data_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_data_url(url)


def test_image_holds_exactly_one_of_data_or_url() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        GeneratedImage()
    with pytest.raises(ValueError, match="exactly one"):
        GeneratedImage(data=b"x", url="https://example.invalid/x.png")


def test_image_rejects_data_urls_and_negative_index() -> None:
    with pytest.raises(ValueError, match="decode_data_url"):
        GeneratedImage(url="data:image/png;base64,AAAA")
    with pytest.raises(ValueError, match="negative"):
        GeneratedImage(data=b"x", index=-1)


def test_image_metadata_is_a_read_only_copy() -> None:
    metadata = {"prediction_id": "abc"}
    image = GeneratedImage(data=b"x", metadata=metadata)

    metadata["prediction_id"] = "changed"
    with pytest.raises(TypeError):
        image.metadata["predict_time"] = 1.0  # type: ignore[index]

    assert image.metadata == {"prediction_id": "abc"}


def test_image_repr_never_dumps_bytes() -> None:
    image = GeneratedImage(data=b"\x00" * 5000, media_type="image/png", size=ImageSize(8, 4))

    text = repr(image)

    assert "data=<5000 bytes>" in text
    assert "\\x00" not in text
    assert "size=ImageSize(width=8, height=4)" in text


def test_warning_text() -> None:
    warning = GenerationWarning("ignored", kind=WarningKind.UNSUPPORTED_SETTING, setting="seed")

    assert str(warning) == "unsupported-setting (seed): ignored"
    assert str(GenerationWarning("fewer images")) == "other: fewer images"


def test_data_url_scheme_is_case_insensitive() -> None:
    data, media_type = decode_data_url("DATA:image/png;base64," + base64.b64encode(b"x").decode())
    assert (data, media_type) == (b"x", "image/png")
    with pytest.raises(ValueError, match="decode data: URLs"):
        GeneratedImage(url="Data:image/png;base64,eA==")
