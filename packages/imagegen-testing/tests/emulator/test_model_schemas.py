"""The schema routes: models, versions and deployments return Cog-shaped OpenAPI schemas."""

from __future__ import annotations

import pytest

from imagegen_testing.emulator import (
    BUILTIN_MODELS,
    DEFAULT_DEPLOYMENT,
    FLUX_2_PRO,
    FLUX_KONTEXT_PRO,
    FLUX_SCHNELL,
    FLUX_SCHNELL_VERSION,
    NANO_BANANA,
    PREVIEW_STREAM,
    SDXL,
    SDXL_VERSION,
    Fault,
    Route,
)


def _input(schema):
    return schema["components"]["schemas"]["Input"]


async def test_a_model_carries_its_latest_versions_schema(api):
    reply = await api.request("GET", f"/models/{FLUX_SCHNELL}")

    assert reply.status == 200
    body = reply.body
    assert (body["owner"], body["name"]) == tuple(FLUX_SCHNELL.split("/"))
    latest = body["latest_version"]
    assert latest["id"] == FLUX_SCHNELL_VERSION
    schema = latest["openapi_schema"]
    assert schema["openapi"].startswith("3.")
    properties = _input(schema)["properties"]
    assert properties["num_outputs"]["maximum"] == 4
    # Cog puts choices behind allOf/$ref, as the real flux-schnell schema does.
    assert properties["aspect_ratio"]["allOf"] == [{"$ref": "#/components/schemas/aspect_ratio"}]
    assert "16:9" in schema["components"]["schemas"]["aspect_ratio"]["enum"]


async def test_a_version_is_served_by_id(api):
    reply = await api.request("GET", f"/models/{SDXL}/versions/{SDXL_VERSION}")

    assert reply.status == 200
    assert reply.body["id"] == SDXL_VERSION
    properties = _input(reply.body["openapi_schema"])["properties"]
    assert properties["image"]["format"] == "uri"
    assert properties["mask"]["format"] == "uri"


async def test_an_unknown_version_or_model_is_a_404_problem(api):
    wrong = await api.request("GET", f"/models/{SDXL}/versions/{'0' * 64}")
    missing = await api.request("GET", "/models/nobody/nothing")

    assert (wrong.status, missing.status) == (404, 404)
    assert wrong.content_type == missing.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("model", "name", "shape"),
    [
        (FLUX_KONTEXT_PRO, "input_image", "string"),
        (NANO_BANANA, "image_input", "array"),
        (FLUX_2_PRO, "input_images", "array"),
        (SDXL, "image", "string"),
    ],
)
async def test_each_model_names_its_image_input_as_the_real_one_does(api, model, name, shape):
    body = (await api.request("GET", f"/models/{model}")).body
    spec = _input(body["latest_version"]["openapi_schema"])["properties"][name]

    assert spec["type"] == shape
    file_spec = spec["items"] if shape == "array" else spec
    assert file_spec == {"type": "string", "format": "uri"} or file_spec["format"] == "uri"


async def test_flux_2_pro_states_its_limit_in_prose_only(api):
    body = (await api.request("GET", f"/models/{FLUX_2_PRO}")).body
    spec = _input(body["latest_version"]["openapi_schema"])["properties"]["input_images"]

    assert "maxItems" not in spec
    assert "Maximum 8 images" in spec["description"]


async def test_the_preview_model_declares_an_iterator_output(api):
    body = (await api.request("GET", f"/models/{PREVIEW_STREAM}")).body
    output = body["latest_version"]["openapi_schema"]["components"]["schemas"]["Output"]

    assert output["x-cog-array-type"] == "iterator"


async def test_a_deployment_names_its_model_and_version(api):
    reply = await api.request("GET", f"/deployments/{DEFAULT_DEPLOYMENT}")

    assert reply.status == 200
    release = reply.body["current_release"]
    assert (release["model"], release["version"]) == (FLUX_SCHNELL, FLUX_SCHNELL_VERSION)
    assert (await api.request("GET", "/deployments/nobody/nothing")).status == 404


async def test_every_builtin_model_validates_its_own_defaults():
    for model in BUILTIN_MODELS:
        options = model.validate({"prompt": "x"})
        assert options["prompt"] == "x"


@pytest.mark.parametrize("route", [Route.MODELS_GET, Route.MODELS_VERSIONS_GET])
async def test_schema_routes_take_scripted_errors(api, emulator, route):
    emulator.script(Fault.http_error(503, route=route))
    path = (
        f"/models/{SDXL}"
        if route is Route.MODELS_GET
        else f"/models/{SDXL}/versions/{SDXL_VERSION}"
    )

    reply = await api.request("GET", path)

    assert reply.status == 503
    assert emulator.counters.requests[route] == 1


async def test_schema_routes_can_answer_malformed(api, emulator):
    emulator.script(Fault.malformed_reply('{"latest_version": 7}', route=Route.MODELS_GET))

    reply = await api.request("GET", f"/models/{FLUX_SCHNELL}")

    assert reply.status == 200
    assert reply.body == {"latest_version": 7}


async def test_a_community_model_runs_only_by_version(api):
    by_name = await api.create({"prompt": "x"}, path=f"/models/{SDXL}/predictions")
    by_version = await api.request(
        "POST",
        "/predictions",
        json={"version": f"{SDXL}:{SDXL_VERSION}", "input": {"prompt": "x", "width": 64}},
    )

    assert by_name.status == 404
    assert by_version.status == 201
