"""Capabilities.check: unsupported settings warn, impossible values fail before any call."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from imagegen_core import (
    MAX_INPUT_IMAGES,
    Capabilities,
    ErrorKind,
    ImageGenError,
    ImageRequest,
    ImageRole,
    InputImage,
    OutputFormat,
    WarningKind,
)

EVERYTHING = Capabilities(
    max_images_per_call=4,
    aspect_ratios=None,
    supports_size=True,
    supports_seed=True,
    supports_negative_prompt=True,
    supports_quality=True,
    output_formats=frozenset(OutputFormat),
)
NOTHING = Capabilities()


def warned_settings(capabilities: Capabilities, **fields: Any) -> list[str | None]:
    warnings = capabilities.check(ImageRequest(prompt="p", **fields))
    assert all(w.kind is WarningKind.UNSUPPORTED_SETTING for w in warnings)
    return [w.setting for w in warnings]


def test_fully_capable_backend_warns_about_nothing() -> None:
    fields = {
        "negative_prompt": "n",
        "num_images": 4,
        "size": "64x64",
        "seed": 1,
        "output_format": "webp",
        "quality": 50,
    }

    assert warned_settings(EVERYTHING, **fields) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seed", 3),
        ("negative_prompt", "blurry"),
        ("quality", 70),
        ("size", "64x64"),
        ("output_format", "png"),
    ],
)
def test_each_unsupported_setting_is_one_warning(field: str, value: Any) -> None:
    assert warned_settings(NOTHING, **{field: value}) == [field]


def test_several_unsupported_settings_each_warn() -> None:
    settings = warned_settings(NOTHING, seed=1, negative_prompt="n", quality=5)

    assert sorted(s or "" for s in settings) == ["negative_prompt", "quality", "seed"]


def test_warning_text_says_what_happens() -> None:
    (warning,) = NOTHING.check(ImageRequest(prompt="p", output_format="png"))

    assert str(warning) == (
        "unsupported-setting (output_format): png is not available; "
        "the backend returns its own choice"
    )


def test_unavailable_output_format_names_the_offered_ones() -> None:
    capabilities = Capabilities(output_formats=frozenset({OutputFormat.WEBP, OutputFormat.JPEG}))

    (warning,) = capabilities.check(ImageRequest(prompt="p", output_format="png"))

    assert "jpeg, webp" in warning.message


def test_size_warning_suggests_aspect_ratio_only_when_there_is_one() -> None:
    with_ratios = Capabilities(aspect_ratios=frozenset({"1:1"}))
    without_ratios = Capabilities(aspect_ratios=frozenset())

    (hinted,) = with_ratios.check(ImageRequest(prompt="p", size="64x64"))
    (plain,) = without_ratios.check(ImageRequest(prompt="p", size="64x64"))

    assert "use aspect_ratio instead" in hinted.message
    assert "aspect_ratio" not in plain.message


def test_too_many_images_is_an_error_not_a_warning() -> None:
    with pytest.raises(ImageGenError) as caught:
        EVERYTHING.check(ImageRequest(prompt="p", num_images=5), backend="b")

    error = caught.value
    assert error.kind is ErrorKind.INVALID_REQUEST
    assert error.backend == "b"
    assert "at most 4" in error.message
    assert not error.retryable


def test_any_aspect_ratio_when_none_declared() -> None:
    assert warned_settings(EVERYTHING, aspect_ratio="7:3") == []


def test_no_aspect_ratio_notion_warns() -> None:
    assert warned_settings(Capabilities(aspect_ratios=frozenset()), aspect_ratio="1:1") == [
        "aspect_ratio"
    ]


def test_aspect_ratio_not_offered_is_an_error_listing_offers_in_order() -> None:
    capabilities = Capabilities(aspect_ratios=frozenset({"16:9", "1:1", "9:16", "4:3"}))

    with pytest.raises(ImageGenError) as caught:
        capabilities.check(ImageRequest(prompt="p", aspect_ratio="21:9"))

    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert caught.value.message.endswith("choose one of: 9:16, 1:1, 4:3, 16:9")


def test_declared_aspect_ratios_are_normalised() -> None:
    capabilities = Capabilities(aspect_ratios=frozenset({" 16 : 9 "}))

    assert capabilities.aspect_ratios == frozenset({"16:9"})
    assert capabilities.check(ImageRequest(prompt="p", aspect_ratio="16:9")) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"max_images_per_call": 0},
        {"aspect_ratios": frozenset({"wide"})},
        {"output_formats": frozenset({"gif"})},
        {"supports_video": True},
    ],
)
def test_invalid_capabilities_are_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Capabilities(**fields)


def test_capabilities_are_immutable() -> None:
    with pytest.raises(ValidationError):
        EVERYTHING.supports_seed = False  # type: ignore[misc]


# -- input images and masks: errors, never warnings ----------------------------------

EDIT = InputImage(url="https://example.com/photo.png", size=(8, 6))
REFERENCE = InputImage(url="https://example.com/style.png", role=ImageRole.REFERENCE)
MASK = InputImage(url="https://example.com/mask.png", size=(8, 6))
EDITOR = Capabilities(max_input_images=2, supports_mask=True)


def refusal(capabilities: Capabilities, **fields: Any) -> ImageGenError:
    with pytest.raises(ImageGenError) as caught:
        capabilities.check(ImageRequest(prompt="p", **fields), backend="b")
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert caught.value.backend == "b"
    return caught.value


def test_text_to_image_backend_refuses_any_input_image() -> None:
    assert "takes no input images" in refusal(NOTHING, images=[EDIT]).message


def test_too_many_input_images_for_the_backend() -> None:
    message = refusal(EDITOR, images=[EDIT, EDIT, EDIT]).message

    assert "3 input images given; this backend takes at most 2" in message


def test_a_role_the_backend_cannot_honour_is_refused() -> None:
    message = refusal(EDITOR, images=[EDIT, REFERENCE]).message

    assert "input image 1 has role 'reference'" in message
    assert "accepts: edit" in message


def test_a_mask_the_backend_cannot_use_is_refused() -> None:
    no_mask = Capabilities(max_input_images=1)

    assert "does not take a mask" in refusal(no_mask, images=[EDIT], mask=MASK).message


def test_inputs_a_backend_takes_pass_without_warnings() -> None:
    both = Capabilities(max_input_images=2, supports_mask=True, input_roles=frozenset(ImageRole))

    assert both.check(ImageRequest(prompt="p", images=[EDIT, REFERENCE], mask=MASK)) == []


def test_input_capabilities_must_be_consistent() -> None:
    with pytest.raises(ValidationError, match="supports_mask needs max_input_images"):
        Capabilities(supports_mask=True)
    with pytest.raises(ValidationError, match="needs the 'edit' role"):
        Capabilities(
            max_input_images=1, supports_mask=True, input_roles=frozenset({ImageRole.REFERENCE})
        )
    with pytest.raises(ValidationError, match="at least one role"):
        Capabilities(max_input_images=1, input_roles=frozenset())
    with pytest.raises(ValidationError):
        Capabilities(max_input_images=MAX_INPUT_IMAGES + 1)
