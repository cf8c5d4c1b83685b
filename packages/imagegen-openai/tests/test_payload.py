"""What is sent for a request: sizes mapped honestly, options checked against the model."""

from __future__ import annotations

from typing import Any

import pytest

from imagegen_core import ErrorKind, ImageGenError, ImageRequest, WarningKind
from imagegen_openai import OpenAIBackend, OpenAISettings, profile_for
from imagegen_openai._payload import build_call


def fields(request: ImageRequest, **settings: Any) -> dict[str, Any]:
    config = OpenAISettings(**settings)
    return build_call(request, config, profile_for(config.model)).fields


@pytest.mark.parametrize(
    ("model", "ratio", "size"),
    [
        ("gpt-image-1.5", "1:1", "1024x1024"),
        ("gpt-image-1", "3:2", "1536x1024"),
        ("gpt-image-1-mini", "2:3", "1024x1536"),
        ("dall-e-3", "7:4", "1792x1024"),
        ("dall-e-3", "4:7", "1024x1792"),
        ("dall-e-2", "1:1", "1024x1024"),
    ],
)
def test_aspect_ratio_becomes_the_size_the_model_renders(model: str, ratio: str, size: str) -> None:
    assert fields(ImageRequest(prompt="x", aspect_ratio=ratio), model=model)["size"] == size


def test_an_aspect_ratio_the_model_lacks_is_refused_before_any_request() -> None:
    backend = OpenAIBackend({"model": "gpt-image-1"})
    with pytest.raises(ImageGenError) as caught:
        backend.generate(ImageRequest(prompt="x", aspect_ratio="16:9"))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "3:2" in caught.value.message


def test_an_exact_size_the_model_does_not_render_is_refused_listing_the_sizes() -> None:
    backend = OpenAIBackend({"model": "gpt-image-1.5"})
    with pytest.raises(ImageGenError) as caught:
        backend.generate(ImageRequest(prompt="x", size="1000x1000"))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "1024x1024, 1024x1536, 1536x1024" in caught.value.message


def test_dall_e_2_takes_its_small_squares() -> None:
    sent = fields(ImageRequest(prompt="x", size="256x256"), model="dall-e-2")
    assert sent["size"] == "256x256"
    assert sent["response_format"] == "b64_json"
    assert "output_format" not in sent


def test_the_model_limit_on_n_is_the_capability() -> None:
    assert OpenAIBackend({"model": "dall-e-3"}).capabilities.max_images_per_call == 1
    assert OpenAIBackend({"model": "gpt-image-1"}).capabilities.max_images_per_call == 10
    with pytest.raises(ImageGenError):
        OpenAIBackend({"model": "dall-e-3"}).generate(ImageRequest(prompt="x", num_images=2))


def test_request_quality_becomes_output_compression_for_jpeg_and_webp() -> None:
    sent = fields(ImageRequest(prompt="x", output_format="webp", quality=70))
    assert sent["output_format"] == "webp"
    assert sent["output_compression"] == 70


def test_compression_with_png_is_a_warning_not_a_silent_drop() -> None:
    config = OpenAISettings()
    call = build_call(
        ImageRequest(prompt="x", output_format="png", quality=70), config, profile_for(config.model)
    )
    assert "output_compression" not in call.fields
    [warning] = call.warnings
    assert warning.kind is WarningKind.UNSUPPORTED_SETTING
    assert warning.setting == "quality"


def test_unset_options_are_not_sent() -> None:
    assert set(fields(ImageRequest(prompt="x"))) == {"model", "prompt", "n"}


def test_model_options_are_sent_when_set() -> None:
    sent = fields(
        ImageRequest(prompt="x", output_format="png"),
        quality="high",
        background="transparent",
        moderation="low",
        user="user-1",
    )
    assert sent["quality"] == "high"
    assert sent["background"] == "transparent"
    assert sent["moderation"] == "low"
    assert sent["user"] == "user-1"


@pytest.mark.parametrize(
    ("settings", "request_fields", "setting"),
    [
        ({"model": "gpt-image-2", "background": "transparent"}, {}, "background"),
        ({"background": "transparent"}, {"output_format": "jpeg"}, "background"),
        ({"model": "dall-e-3", "background": "opaque"}, {}, "background"),
        ({"model": "dall-e-3", "moderation": "low"}, {}, "moderation"),
        ({"model": "gpt-image-1", "quality": "hd"}, {}, "quality"),
        ({"model": "dall-e-3", "quality": "high"}, {}, "quality"),
        ({"model": "gpt-image-1", "style": "vivid"}, {}, "style"),
        ({"model": "dall-e-2"}, {"prompt": "x" * 1001}, "prompt"),
    ],
)
def test_an_option_the_model_does_not_take_is_refused_naming_it(
    settings: dict[str, Any], request_fields: dict[str, Any], setting: str
) -> None:
    backend = OpenAIBackend(settings)
    request = ImageRequest(**{"prompt": "x", **request_fields})
    with pytest.raises(ImageGenError) as caught:
        backend.generate(request)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert caught.value.message.startswith(f"{setting}:")


def test_streaming_sends_stream_and_partial_images() -> None:
    sent = fields(ImageRequest(prompt="x"), stream=True, partial_images=3)
    assert sent["stream"] is True
    assert sent["partial_images"] == 3


def test_streaming_on_a_model_without_it_is_a_warning() -> None:
    config = OpenAISettings(model="dall-e-3", stream=True)
    call = build_call(ImageRequest(prompt="x"), config, profile_for(config.model))
    assert "stream" not in call.fields
    assert [w.setting for w in call.warnings] == ["stream"]


def test_extra_body_then_request_options_go_last() -> None:
    sent = fields(
        ImageRequest(prompt="x", options={"quality": "low", "new_field": 1}),
        quality="high",
        extra_body={"new_field": 0, "other": True},
    )
    assert sent["quality"] == "low"
    assert sent["new_field"] == 1
    assert sent["other"] is True


def test_unknown_models_get_the_gpt_image_profile_and_dated_snapshots_their_family() -> None:
    assert profile_for("my-compatible-model").gpt_image
    assert profile_for("gpt-image-1-mini-2025-10-06").family == "gpt-image-1-mini"
    assert profile_for("dall-e-3").max_images == 1
    assert profile_for("gpt-image-1.5-2025-12-16").family == "gpt-image-1.5"


def test_unsupported_generic_settings_warn() -> None:
    backend = OpenAIBackend()
    generation = backend.generate(ImageRequest(prompt="x", seed=1, negative_prompt="blur"))
    assert {w.setting for w in generation.warnings} == {"seed", "negative_prompt"}
