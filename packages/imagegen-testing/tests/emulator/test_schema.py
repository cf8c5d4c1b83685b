"""flux-schnell's input schema: 422s with Replicate's body, defaults, unknown keys."""

from __future__ import annotations

import pytest

from imagegen_testing.emulator import ASPECT_RATIOS, image_size
from imagegen_testing.emulator.models import FLUX_SCHNELL_MODEL
from imagegen_testing.emulator.schema import InputValidationError

validate_input = FLUX_SCHNELL_MODEL.validate

ALL_RATIOS = ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"]


@pytest.mark.parametrize(
    ("override", "kind", "field", "description"),
    [
        (
            {"aspect_ratio": "7:1"},
            "enum",
            "input.aspect_ratio",
            "aspect_ratio must be one of the following: ",
        ),
        (
            {"num_outputs": 0},
            "number_gte",
            "input.num_outputs",
            "Must be greater than or equal to 1",
        ),
        ({"num_outputs": 5}, "number_lte", "input.num_outputs", "Must be less than or equal to 4"),
        (
            {"num_inference_steps": 0},
            "number_gte",
            "input.num_inference_steps",
            "Must be greater than or equal to 1",
        ),
        (
            {"num_inference_steps": 28},
            "number_lte",
            "input.num_inference_steps",
            "Must be less than or equal to 4",
        ),
        (
            {"output_format": "gif"},
            "enum",
            "input.output_format",
            'output_format must be one of the following: "webp", "jpg", "png"',
        ),
        ({"output_format": "jpeg"}, "enum", "input.output_format", "output_format must be one of"),
        (
            {"output_quality": -1},
            "number_gte",
            "input.output_quality",
            "Must be greater than or equal to 0",
        ),
        (
            {"output_quality": 101},
            "number_lte",
            "input.output_quality",
            "Must be less than or equal to 100",
        ),
        (
            {"megapixels": "2"},
            "enum",
            "input.megapixels",
            'megapixels must be one of the following: "1", "0.25"',
        ),
        (
            {"megapixels": 1},
            "invalid_type",
            "input.megapixels",
            "Invalid type. Expected: string, given: integer",
        ),
        (
            {"seed": "42"},
            "invalid_type",
            "input.seed",
            "Invalid type. Expected: integer, given: string",
        ),
        (
            {"seed": 4.5},
            "invalid_type",
            "input.seed",
            "Invalid type. Expected: integer, given: number",
        ),
        (
            {"num_outputs": True},
            "invalid_type",
            "input.num_outputs",
            "Invalid type. Expected: integer, given: boolean",
        ),
        (
            {"go_fast": "yes"},
            "invalid_type",
            "input.go_fast",
            "Invalid type. Expected: boolean, given: string",
        ),
        (
            {"disable_safety_checker": 1},
            "invalid_type",
            "input.disable_safety_checker",
            "Invalid type. Expected: boolean",
        ),
        (
            {"prompt": None},
            "invalid_type",
            "input.prompt",
            "Invalid type. Expected: string, given: null",
        ),
    ],
)
async def test_out_of_schema_input_is_a_422_naming_the_field(
    api, emulator, override, kind, field, description
):
    reply = await api.create({**api.SMALL, **override})

    assert reply.status == 422
    assert reply.content_type == "application/problem+json"
    assert reply.body["title"] == "Input validation failed"
    assert reply.body["status"] == 422
    (invalid,) = reply.body["invalid_fields"]
    assert invalid["type"] == kind
    assert invalid["field"] == field
    assert invalid["description"].startswith(description)
    assert reply.body["detail"] == f"- {field}: {invalid['description']}\n"
    assert emulator.counters.predictions_created == 0


async def test_every_problem_is_reported_at_once(api):
    reply = await api.create({"num_outputs": 9, "aspect_ratio": "2:1"})

    assert reply.status == 422
    assert [f["field"] for f in reply.body["invalid_fields"]] == [
        "input",
        "input.aspect_ratio",
        "input.num_outputs",
    ]
    assert reply.body["detail"].splitlines()[0] == "- input: prompt is required"


async def test_the_enum_message_lists_every_aspect_ratio(api):
    reply = await api.create({**api.SMALL, "aspect_ratio": "1:2"})

    description = reply.body["invalid_fields"][0]["description"]
    assert all(f'"{ratio}"' in description for ratio in ALL_RATIOS)


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ({"input": {"prompt": "x"}, "model": "flux"}, "- Additional property model is not allowed"),
        ({}, "- input is required"),
        ({"input": "a cat"}, "- input: Invalid type. Expected: object, given: string"),
    ],
)
async def test_bad_bodies_are_422(api, body, line):
    reply = await api.request("POST", api.MODEL_PATH, json=body)

    assert reply.status == 422
    assert line in reply.body["detail"].splitlines()


async def test_the_version_route_requires_a_version(api):
    reply = await api.request("POST", "/predictions", json={"input": api.SMALL})

    assert reply.status == 422
    assert "- version is required" in reply.body["detail"].splitlines()


async def test_documented_body_keys_are_accepted(api):
    body = {
        "input": api.SMALL,
        "webhook": "https://example.invalid/hook",
        "webhook_events_filter": ["completed"],
    }

    reply = await api.request("POST", api.MODEL_PATH, json=body)

    assert reply.status == 201


async def test_unknown_input_keys_are_ignored_and_logged(api, emulator):
    reply = await api.create(
        {**api.SMALL, "guidance_scale": 3.5, "negative_prompt": "blur"}, Prefer="wait=5"
    )

    assert reply.status == 201
    assert reply.body["status"] == "succeeded"
    assert reply.body["input"]["guidance_scale"] == 3.5
    assert "Ignoring unknown input(s): guidance_scale, negative_prompt" in reply.body["logs"]


def test_defaults_are_flux_schnells():
    options = validate_input({"prompt": "x"})

    assert (options["aspect_ratio"], options["num_outputs"], options["num_inference_steps"]) == (
        "1:1",
        1,
        4,
    )
    assert (options["output_format"], options["output_quality"], options["megapixels"]) == (
        "webp",
        80,
        "1",
    )
    assert "seed" not in options
    assert (options["go_fast"], options["disable_safety_checker"]) == (True, False)


def test_whole_floats_count_as_integers():
    assert validate_input({"prompt": "x", "num_outputs": 2.0})["num_outputs"] == 2


@pytest.mark.parametrize("ratio", ALL_RATIOS)
def test_every_aspect_ratio_is_accepted(ratio):
    assert validate_input({"prompt": "x", "aspect_ratio": ratio})["aspect_ratio"] == ratio


def test_input_must_be_an_object():
    with pytest.raises(InputValidationError, match="Expected: object"):
        validate_input(["prompt"])


def test_the_aspect_ratio_table_is_flux_schnells():
    assert list(ASPECT_RATIOS) == ALL_RATIOS
    assert image_size("1:1", "1") == (1024, 1024)
    assert image_size("1:1", "0.25") == (512, 512)
    assert image_size("16:9", "1") == (1344, 768)
    assert image_size("9:21", "0.25") == (320, 768)


@pytest.mark.parametrize("ratio", ALL_RATIOS)
@pytest.mark.parametrize("megapixels", ["1", "0.25"])
def test_sizes_follow_the_ratio_in_multiples_of_16(ratio, megapixels):
    width, height = image_size(ratio, megapixels)
    ratio_w, ratio_h = (int(part) for part in ratio.split(":"))

    assert width % 16 == 0
    assert height % 16 == 0
    assert width / height == pytest.approx(ratio_w / ratio_h, rel=0.08)
    expected_pixels = 1024 * 1024 * float(megapixels)
    assert width * height == pytest.approx(expected_pixels, rel=0.1)
