"""Every output shape Replicate models produce becomes images, by position."""

from __future__ import annotations

import base64

import pytest

from imagegen_replicate._outputs import (
    OutputFile,
    UnexpectedOutput,
    output_files,
    to_generated_image,
)

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def test_list_of_urls() -> None:
    files = output_files(["https://replicate.delivery/a/out-0.webp", "https://x/out-1.webp"])
    assert [(f.index, f.inline) for f in files] == [(0, False), (1, False)]


def test_single_string() -> None:
    assert output_files("https://replicate.delivery/a/out.png") == [
        OutputFile(0, "https://replicate.delivery/a/out.png")
    ]


def test_objects_with_url() -> None:
    files = output_files([{"url": "https://x/0.png"}, {"url": "https://x/1.png"}])
    assert [f.location for f in files] == ["https://x/0.png", "https://x/1.png"]
    assert output_files({"url": "https://x/only.jpg"}) == [OutputFile(0, "https://x/only.jpg")]


def test_none_and_placeholders_keep_positions() -> None:
    assert output_files(None) == []
    assert output_files([]) == []
    assert output_files([None, "https://x/1.png"]) == [OutputFile(1, "https://x/1.png")]


def test_data_url_becomes_bytes() -> None:
    location = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    [file] = output_files([location])
    assert file.inline
    image = to_generated_image(file, output_format="webp", metadata={"prediction_id": "p1"})
    assert image.data == PNG_1PX
    assert image.url is None
    assert image.media_type == "image/png"  # the data: URL says, not the requested format
    assert image.metadata["prediction_id"] == "p1"


def test_url_output_keeps_the_link_and_guesses_the_media_type() -> None:
    file = OutputFile(2, "https://replicate.delivery/x/out-2.jpg")
    image = to_generated_image(file, output_format=None, metadata={})
    assert (image.url, image.data, image.index, image.media_type) == (
        file.location,
        None,
        2,
        "image/jpeg",
    )
    opaque = to_generated_image(OutputFile(0, "https://cdn/abc"), output_format="jpg", metadata={})
    assert opaque.media_type == "image/jpeg"


def test_malformed_data_url_is_reported() -> None:
    with pytest.raises(UnexpectedOutput, match="malformed data: URL"):
        to_generated_image(
            OutputFile(0, "data:image/png;base64,@@@"), output_format=None, metadata={}
        )


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (42, "int"),
        ([{"image": "https://x"}], "no 'url'"),
        (["file:///etc/passwd"], "not an http"),
        (["hello world"], "not an http"),
    ],
)
def test_unexpected_shapes_are_errors(output: object, message: str) -> None:
    with pytest.raises(UnexpectedOutput, match=message):
        output_files(output)
