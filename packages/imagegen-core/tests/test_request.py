"""ImageRequest: bad input fails when the request is built, with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from imagegen_core import (
    MAX_IMAGES_PER_REQUEST,
    MAX_PROMPT_LENGTH,
    ImageRequest,
    ImageSize,
    OutputFormat,
)
from imagegen_core._request import parse_aspect_ratio


def rejected(**fields: Any) -> str:
    """Build a request that must fail; return pydantic's message for people."""
    with pytest.raises(ValidationError) as caught:
        ImageRequest(**fields)
    return str(caught.value)


def test_minimal_request_has_defaults() -> None:
    request = ImageRequest(prompt="a red fox")

    assert request.num_images == 1
    assert request.negative_prompt is None
    assert request.aspect_ratio is None
    assert request.size is None
    assert request.output_format is None
    assert request.options == {}


@pytest.mark.parametrize("prompt", ["", " ", "\n\t  "])
def test_empty_or_whitespace_prompt(prompt: str) -> None:
    message = rejected(prompt=prompt)

    assert "prompt" in message
    assert "only whitespace" in message


def test_prompt_length_limit() -> None:
    assert ImageRequest(prompt="x" * MAX_PROMPT_LENGTH).prompt == "x" * MAX_PROMPT_LENGTH

    message = rejected(prompt="x" * (MAX_PROMPT_LENGTH + 1))

    assert f"maximum is {MAX_PROMPT_LENGTH}" in message


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_text_without_a_utf8_encoding_is_refused(field: str) -> None:
    # A lone surrogate: the provider would get an escape it cannot read.
    fields = {"prompt": "a fox", field: "a fox \ud800 in snow"}

    message = rejected(**fields)

    assert field in message
    assert "no UTF-8 encoding" in message
    assert "position 6" in message


def test_negative_prompt_blank_means_none_and_is_length_limited() -> None:
    assert ImageRequest(prompt="p", negative_prompt="  ").negative_prompt is None
    assert ImageRequest(prompt="p", negative_prompt="blur").negative_prompt == "blur"

    message = rejected(prompt="p", negative_prompt="x" * (MAX_PROMPT_LENGTH + 1))

    assert "negative_prompt" in message


@pytest.mark.parametrize("count", [0, -1, MAX_IMAGES_PER_REQUEST + 1])
def test_num_images_out_of_range(count: int) -> None:
    assert "num_images" in rejected(prompt="p", num_images=count)


@pytest.mark.parametrize("count", [1, MAX_IMAGES_PER_REQUEST])
def test_num_images_bounds_are_inclusive(count: int) -> None:
    assert ImageRequest(prompt="p", num_images=count).num_images == count


@pytest.mark.parametrize(
    ("given", "normalised"), [("16:9", "16:9"), (" 4 : 3 ", "4:3"), ("1:1", "1:1")]
)
def test_aspect_ratio_is_normalised(given: str, normalised: str) -> None:
    assert ImageRequest(prompt="p", aspect_ratio=given).aspect_ratio == normalised


@pytest.mark.parametrize("ratio", ["16/9", "0:1", "1:0", "a:b", "16:9:1", "16", "", "-1:2"])
def test_malformed_aspect_ratio(ratio: str) -> None:
    assert "aspect ratio" in rejected(prompt="p", aspect_ratio=ratio)


def test_parse_aspect_ratio() -> None:
    assert parse_aspect_ratio("21:9") == (21, 9)
    with pytest.raises(ValueError, match="W:H"):
        parse_aspect_ratio("wide")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1024x768", ImageSize(1024, 768)),
        (" 512 X 256 ", ImageSize(512, 256)),
        ("64\u00d732", ImageSize(64, 32)),
        ((300, 200), ImageSize(300, 200)),
        ([128, 64], ImageSize(128, 64)),
    ],
)
def test_size_forms(given: Any, expected: ImageSize) -> None:
    request = ImageRequest(prompt="p", size=given)

    assert request.size == expected
    assert str(request.size) == f"{expected.width}x{expected.height}"


@pytest.mark.parametrize(
    "size",
    ["big", "1024", "1024x", "0x10", "10x0", "20000x10", (1.5, 2), (True, 2), (-5, 5)],
)
def test_malformed_size(size: Any) -> None:
    assert "size" in rejected(prompt="p", size=size)


def test_aspect_ratio_and_size_together_are_rejected() -> None:
    assert "not both" in rejected(prompt="p", aspect_ratio="1:1", size="64x64")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("png", OutputFormat.PNG),
        ("JPG", OutputFormat.JPEG),
        ("image/webp", OutputFormat.WEBP),
        (".jpeg", OutputFormat.JPEG),
        (OutputFormat.PNG, OutputFormat.PNG),
    ],
)
def test_output_format_spellings(given: Any, expected: OutputFormat) -> None:
    request = ImageRequest(prompt="p", output_format=given)

    assert request.output_format is expected
    assert request.output_format.media_type == f"image/{expected.value}"


def test_unknown_output_format_lists_the_known_ones() -> None:
    message = rejected(prompt="p", output_format="gif")

    assert "unknown output format 'gif'" in message
    assert "png" in message


def test_output_format_parsing_is_remembered_but_failures_are_not() -> None:
    # The parse is cached (every prompt of the same settings asks again); a
    # bad spelling must still fail each time, with the same message.
    assert OutputFormat.parse(" JPG ") is OutputFormat.parse(" JPG ") is OutputFormat.JPEG
    for _ in range(2):
        with pytest.raises(ValueError, match="unknown output format 'tiff'"):
            OutputFormat.parse("tiff")


@pytest.mark.parametrize("value", [3, None, ["png"]])
def test_output_format_parse_refuses_what_is_not_a_string(value: Any) -> None:
    with pytest.raises(ValueError, match="output format must be a string"):
        OutputFormat.parse(value)


class _Opaque:
    """A value JSON cannot hold whose repr, unlike ``object()``'s, is the same in every process.

    pytest-xdist's workers must collect identical test ids, and the id shows the repr.
    """

    def __repr__(self) -> str:
        return "<opaque>"


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": 123},
        {"prompt": None},
        {"prompt": "p", "num_images": 2.5},
        {"prompt": "p", "num_images": "many"},
        {"prompt": "p", "aspect_ratio": 169},
        {"prompt": "p", "output_format": 3},
        {"prompt": "p", "size": {"width": 5, "height": 6}},
        {"prompt": "p", "seed": "lucky"},
        {"prompt": "p", "seed": -1},
        {"prompt": "p", "quality": 101},
        {"prompt": "p", "options": {"callback": _Opaque()}},
        {"prompt": "p", "options": ["not", "a", "mapping"]},
    ],
    ids=lambda fields: (
        ",".join(f"{k}={v!r}" for k, v in fields.items() if k != "prompt")
        or f"prompt={fields['prompt']!r}"
    ),
)
def test_wrong_types_are_rejected(fields: dict[str, Any]) -> None:
    rejected(**fields)


def test_unknown_field_is_rejected() -> None:
    assert "steps" in rejected(prompt="p", steps=4)


def test_request_is_immutable() -> None:
    request = ImageRequest(prompt="p", num_images=2)

    with pytest.raises(ValidationError, match="frozen"):
        request.num_images = 3  # type: ignore[misc]
    assert request.num_images == 2


def test_options_are_copied_from_the_caller() -> None:
    options: dict[str, Any] = {"num_inference_steps": 4, "nested": {"a": [1, None]}}
    request = ImageRequest(prompt="p", options=options)

    options["num_inference_steps"] = 50
    options["extra"] = True
    options["nested"]["a"].append(2)  # nested values are copied too, not shared
    options["nested"]["b"] = {}

    assert request.options == {"num_inference_steps": 4, "nested": {"a": [1, None]}}


def test_options_nested_in_lists_are_copied_and_scalars_kept() -> None:
    options: dict[str, Any] = {
        "loras": [{"name": "a", "scale": 0.5}, [1, 2]],
        "style": "noir",
        "flags": [True, None, 1.5, "x"],
    }
    request = ImageRequest(prompt="p", options=options)

    options["loras"][0]["scale"] = 9
    options["loras"][1].append(3)
    options["flags"].clear()

    assert request.options == {
        "loras": [{"name": "a", "scale": 0.5}, [1, 2]],
        "style": "noir",
        "flags": [True, None, 1.5, "x"],
    }


def test_request_round_trips_through_json() -> None:
    request = ImageRequest(
        prompt="p",
        negative_prompt="n",
        num_images=2,
        size="64x32",
        seed=7,
        output_format="jpg",
        quality=80,
        options={"go_fast": True},
    )

    assert ImageRequest.model_validate_json(request.model_dump_json()) == request


def test_options_are_read_only_but_serialisable() -> None:
    import copy
    import json
    import pickle

    request = ImageRequest(prompt="p", options={"steps": 4, "nested": {"a": [1]}})

    with pytest.raises(TypeError, match="read-only"):
        request.options["steps"] = 5  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        request.options.update(steps=5)  # type: ignore[attr-defined]
    assert json.loads(json.dumps(request.options)) == {"steps": 4, "nested": {"a": [1]}}
    assert ImageRequest.model_validate_json(request.model_dump_json()) == request
    assert pickle.loads(pickle.dumps(request)) == request  # noqa: S301 - our own bytes
    assert copy.deepcopy(request).options == request.options


@pytest.mark.parametrize(
    "field", [{"num_images": True}, {"num_images": "2"}, {"quality": "80"}, {"seed": 1.0}]
)
def test_numbers_are_not_coerced_from_other_types(field: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="valid integer"):
        ImageRequest(prompt="p", **field)
