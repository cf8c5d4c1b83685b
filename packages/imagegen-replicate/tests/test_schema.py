"""Reading model schemas: where each model takes its images, and what it honours."""

from __future__ import annotations

import json

import pytest

from imagegen_core import MAX_INPUT_IMAGES, ErrorKind, ImageGenError, ImageRole
from imagegen_replicate._models import KNOWN_MODELS
from imagegen_replicate._schema import parse_model_schema, schema_from_reply
from imagegen_testing.emulator import BUILTIN_MODELS, EmulatedModel

BY_NAME = {model.name: model for model in BUILTIN_MODELS}


def schema_of(model: EmulatedModel):
    return parse_model_schema(model.openapi_schema(), version=model.version)


@pytest.mark.parametrize(
    ("model", "names", "many", "limit", "mask"),
    [
        ("black-forest-labs/flux-kontext-pro", ("input_image",), False, 1, None),
        ("google/nano-banana", ("image_input",), True, MAX_INPUT_IMAGES, None),
        ("black-forest-labs/flux-2-pro", ("input_images",), True, 8, None),
        ("stability-ai/sdxl", ("image",), False, 1, "mask"),
    ],
)
def test_each_model_gets_its_images_under_its_own_input_name(model, names, many, limit, mask):
    inputs = schema_of(BY_NAME[model]).image_inputs
    assert inputs is not None
    assert (inputs.names, inputs.many, inputs.limit, inputs.mask) == (names, many, limit, mask)


def test_a_text_to_image_model_has_no_image_input():
    assert schema_of(BY_NAME["black-forest-labs/flux-schnell"]).image_inputs is None


@pytest.mark.parametrize("name", sorted(KNOWN_MODELS))
def test_the_declared_profile_of_each_known_model_is_what_its_schema_says(name):
    # The static table lets capabilities be declared before any request; this
    # keeps it honest against the schemas the emulator copies from the real models.
    schema = schema_of(BY_NAME[name])
    assert KNOWN_MODELS[name].capabilities == schema.capabilities()
    assert KNOWN_MODELS[name].takes_num_outputs == schema.takes_num_outputs


def test_image_inputs_take_both_roles_and_a_mask_needs_one():
    caps = schema_of(BY_NAME["stability-ai/sdxl"]).capabilities()
    assert caps.input_roles == frozenset(ImageRole)
    assert caps.supports_mask
    assert caps.max_input_images == 1


def test_only_an_iterator_output_streams_previews():
    iterators = {m.name for m in BUILTIN_MODELS if schema_of(m).iterator_output}
    assert iterators == {"imagegen-emulator/preview-stream"}


def test_max_items_beats_the_prose_limit_and_everything_is_capped():
    def limit(spec):
        openapi = {"components": {"schemas": {"Input": {"properties": {"images": spec}}}}}
        inputs = parse_model_schema(openapi, version=None).image_inputs
        assert inputs is not None
        return inputs.limit

    files = {"type": "array", "items": {"type": "string", "format": "uri"}}
    assert limit({**files, "maxItems": 3, "description": "Maximum 8 images"}) == 3
    assert limit({**files, "description": "Up to 5 reference images"}) == 5
    assert limit({**files, "maxItems": 500}) == MAX_INPUT_IMAGES


def test_several_single_image_inputs_take_one_image_each_in_order():
    one = {"type": "string", "format": "uri"}
    props = {
        "input_image_2": {**one, "x-order": 2},
        "input_image_1": {**one, "x-order": 1},
        "prompt": {"type": "string", "x-order": 0},
    }
    openapi = {"components": {"schemas": {"Input": {"properties": props}}}}
    inputs = parse_model_schema(openapi, version=None).image_inputs
    assert inputs is not None
    assert inputs.names == ("input_image_1", "input_image_2")
    assert inputs.place(["a", "b"], None) == {"input_image_1": "a", "input_image_2": "b"}


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"latest_version": null}', json.dumps({"openapi_schema": {}}).encode()],
)
def test_a_reply_without_a_schema_is_a_server_error(body):
    with pytest.raises(ImageGenError) as caught:
        schema_from_reply(body, action="reading the schema of a/b")
    assert caught.value.kind is ErrorKind.SERVER
    assert not caught.value.retryable


def test_the_model_reply_gives_its_latest_versions_schema():
    model = BY_NAME["black-forest-labs/flux-kontext-pro"]
    schema = schema_from_reply(json.dumps(model.model_object("http://x")).encode(), action="x")
    assert schema.version == model.version
    assert schema.image_inputs is not None


HOSTILE_SPECS = [
    {"type": "string", "enum": ["custom", "match_input_image", "1:1", "0:3", "wide"]},
    {"allOf": ["not a ref", {"$ref": 7}]},
    {"type": "array", "items": "uri"},
    {"type": "array", "items": {"format": "uri"}, "maxItems": True, "description": 3},
    {"type": "string", "format": "uri", "x-order": "first"},
    {"type": "integer", "maximum": 10**9},
]


@pytest.mark.parametrize("spec", HOSTILE_SPECS)
@pytest.mark.parametrize(
    "name", ["aspect_ratio", "num_outputs", "image", "input_images", "mask", "output_format"]
)
def test_no_schema_shape_makes_capabilities_fail(name, spec):
    # A schema is a reply, and untrusted: what is not shaped as expected is ignored.
    openapi = {"components": {"schemas": {"Input": {"properties": {name: spec}}}}}
    schema = parse_model_schema(openapi, version=None)
    capabilities = schema.capabilities()
    assert capabilities.max_images_per_call >= 1
    assert capabilities.aspect_ratios in (frozenset(), frozenset({"1:1"}))


def test_ratio_choices_that_are_not_ratios_are_left_out():
    openapi = {
        "components": {
            "schemas": {
                "Input": {"properties": {"aspect_ratio": {"allOf": [{"$ref": "#/x/ratio"}]}}},
                "ratio": {"enum": ["custom", "match_input_image", "16:9", "2:3"]},
            }
        }
    }
    assert parse_model_schema(openapi, version=None).capabilities().aspect_ratios == {
        "16:9",
        "2:3",
    }
