"""The generic request maps onto flux-schnell's inputs; options pass through."""

from __future__ import annotations

from imagegen_core import Capabilities, ImageRequest, OutputFormat
from imagegen_replicate._inputs import build_inputs, expected_outputs
from imagegen_replicate._models import DEFAULT_MODEL, ModelRef, profile_for

FLUX = profile_for(ModelRef.parse(DEFAULT_MODEL))
GENERIC = profile_for(ModelRef.parse("someone/some-model"))


def test_every_generic_field_maps_to_its_replicate_input() -> None:
    request = ImageRequest(
        prompt="a red fox",
        num_images=3,
        aspect_ratio="16:9",
        seed=42,
        output_format="jpeg",
        quality=55,
    )
    assert build_inputs(request, defaults={}, profile=FLUX) == {
        "prompt": "a red fox",
        "num_outputs": 3,
        "aspect_ratio": "16:9",
        "seed": 42,
        "output_format": "jpg",
        "output_quality": 55,
    }


def test_unset_fields_are_left_to_the_model() -> None:
    inputs = build_inputs(ImageRequest(prompt="x"), defaults={}, profile=FLUX)
    assert inputs == {"prompt": "x", "num_outputs": 1}


def test_unsupported_fields_are_not_sent() -> None:
    request = ImageRequest(
        prompt="x", negative_prompt="blurry", size="512x512", output_format="png", quality=9
    )
    inputs = build_inputs(request, defaults={}, profile=GENERIC)
    assert inputs == {"prompt": "x"}  # generic: no num_outputs for one image, nothing else


def test_declared_capabilities_send_negative_prompt_and_size() -> None:
    profile = profile_for(
        ModelRef.parse("someone/sdxl"),
        Capabilities(
            max_images_per_call=2,
            supports_negative_prompt=True,
            supports_size=True,
            output_formats=frozenset({OutputFormat.PNG}),
        ),
    )
    request = ImageRequest(
        prompt="x", negative_prompt="blurry", size="640x480", num_images=2, output_format="png"
    )
    assert build_inputs(request, defaults={}, profile=profile) == {
        "prompt": "x",
        "negative_prompt": "blurry",
        "num_outputs": 2,
        "width": 640,
        "height": 480,
        "output_format": "png",
    }


def test_precedence_defaults_then_request_then_options() -> None:
    request = ImageRequest(
        prompt="x",
        seed=1,
        options={"num_inference_steps": 2, "seed": 7, "megapixels": "0.25"},
    )
    inputs = build_inputs(
        request,
        defaults={"go_fast": False, "num_inference_steps": 4, "seed": 0},
        profile=FLUX,
    )
    assert inputs["go_fast"] is False  # default kept
    assert inputs["num_inference_steps"] == 2  # options beat defaults
    assert inputs["seed"] == 7  # options beat the mapped field
    assert inputs["megapixels"] == "0.25"  # passed through unchanged


def test_expected_outputs_follows_what_was_sent() -> None:
    request = ImageRequest(prompt="x", num_images=2)
    assert expected_outputs({"num_outputs": 4}, request) == 4
    assert expected_outputs({}, request) == 2
    assert expected_outputs({"num_outputs": True}, request) == 2
    assert expected_outputs({"num_outputs": "3"}, request) == 2
