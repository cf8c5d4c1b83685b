"""Every route answers as Replicate documents it."""

from __future__ import annotations

import re

import pytest

from imagegen_testing.emulator import (
    DEFAULT_DEPLOYMENT,
    FLUX_SCHNELL,
    FLUX_SCHNELL_VERSION,
    Latency,
    ReplicateEmulator,
    Route,
)

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
REQUIRED_FIELDS = {
    "id",
    "model",
    "version",
    "input",
    "output",
    "data_removed",
    "error",
    "status",
    "created_at",
    "urls",
}


async def test_model_route_creates_with_201_and_the_documented_fields(api, emulator):
    reply = await api.create()

    assert reply.status == 201
    assert reply.content_type == "application/json"
    body = reply.body
    assert body.keys() >= REQUIRED_FIELDS
    assert body["status"] == "starting"
    assert body["model"] == FLUX_SCHNELL
    assert body["version"] == "hidden"
    assert body["input"] == api.SMALL
    assert body["source"] == "api"
    assert body["output"] is None
    assert body["error"] is None
    assert body["data_removed"] is False
    assert TIMESTAMP.fullmatch(body["created_at"])
    assert re.fullmatch(r"[a-z0-9]{26}", body["id"])
    assert emulator.predictions[body["id"]].route is Route.MODELS_PREDICTIONS_CREATE


async def test_urls_are_absolute_on_the_emulator_and_work(api, emulator):
    created = (await api.create()).body
    urls = created["urls"]

    assert urls["get"] == f"{emulator.base_url}/predictions/{created['id']}"
    assert urls["cancel"] == f"{emulator.base_url}/predictions/{created['id']}/cancel"
    assert urls["web"].startswith(emulator.origin)
    assert (await api.request("GET", urls["get"])).body["id"] == created["id"]
    assert (await api.request("POST", urls["cancel"])).status == 200


async def test_get_follows_a_prediction_to_success_with_timestamps_logs_and_metrics(api, emulator):
    emulator.latency = Latency(predict=0.02)
    created = (await api.create({**api.SMALL, "seed": 42})).body
    await emulator.wait_idle()

    reply = await api.get(created["id"])

    assert reply.status == 200
    body = reply.body
    assert body["status"] == "succeeded"
    assert all(
        TIMESTAMP.fullmatch(body[key]) for key in ("created_at", "started_at", "completed_at")
    )
    assert body["created_at"] <= body["started_at"] <= body["completed_at"]
    assert body["metrics"]["predict_time"] >= 0.02
    assert body["metrics"]["total_time"] >= body["metrics"]["predict_time"]
    assert body["metrics"]["image_count"] == 1
    assert "Using seed: 42" in body["logs"]
    assert len(body["output"]) == 1


@pytest.mark.parametrize(
    "version",
    [
        FLUX_SCHNELL_VERSION,
        f"{FLUX_SCHNELL}:{FLUX_SCHNELL_VERSION}",
        FLUX_SCHNELL,
    ],
    ids=["bare-id", "model-and-id", "official-model-name"],
)
async def test_version_route_accepts_every_documented_form(api, emulator, version):
    reply = await api.request("POST", "/predictions", json={"version": version, "input": api.SMALL})

    assert reply.status == 201
    assert reply.body["model"] == FLUX_SCHNELL
    expected = "hidden" if version == FLUX_SCHNELL else FLUX_SCHNELL_VERSION
    assert reply.body["version"] == expected
    assert emulator.predictions[reply.body["id"]].route is Route.PREDICTIONS_CREATE


@pytest.mark.parametrize(
    "version",
    ["0" * 64, f"{FLUX_SCHNELL}:{'0' * 64}", "someone/else", "not a version"],
)
async def test_unknown_version_is_the_real_apis_422(api, version):
    reply = await api.request("POST", "/predictions", json={"version": version, "input": api.SMALL})

    assert reply.status == 422
    assert reply.content_type == "application/problem+json"
    assert reply.body["title"] == "Invalid version or not permitted"


async def test_default_deployment_runs_flux_schnell_and_names_itself(api, emulator):
    reply = await api.create(path=f"/deployments/{DEFAULT_DEPLOYMENT}/predictions")

    assert reply.status == 201
    assert reply.body["deployment"] == DEFAULT_DEPLOYMENT
    assert reply.body["model"] == FLUX_SCHNELL
    assert reply.body["version"] == FLUX_SCHNELL_VERSION
    assert emulator.counters.requests[Route.DEPLOYMENTS_PREDICTIONS_CREATE] == 1


async def test_deployments_are_configurable(session):
    async with ReplicateEmulator(deployments={"acme/painter": FLUX_SCHNELL}) as emu:
        headers = {"Authorization": f"Bearer {emu.api_token}"}
        url = f"{emu.base_url}/deployments/acme/painter/predictions"
        async with session.post(url, json={"input": {"prompt": "x"}}, headers=headers) as reply:
            assert reply.status == 201
            assert (await reply.json())["deployment"] == "acme/painter"
        default = f"{emu.base_url}/deployments/{DEFAULT_DEPLOYMENT}/predictions"
        async with session.post(default, json={"input": {"prompt": "x"}}, headers=headers) as reply:
            assert reply.status == 404


def test_a_deployment_of_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        ReplicateEmulator(deployments={"acme/painter": "acme/missing"})


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/models/acme/missing/predictions", "Model not found"),
        ("/deployments/acme/missing/predictions", "Deployment not found"),
    ],
)
async def test_unknown_model_or_deployment_is_404_problem(api, path, title):
    reply = await api.create(path=path)

    assert reply.status == 404
    assert reply.content_type == "application/problem+json"
    assert reply.body["title"] == title
    assert reply.body["status"] == 404
    assert "acme/missing" in reply.body["detail"]


@pytest.mark.parametrize(
    "method_path", [("GET", "/predictions/nope"), ("POST", "/predictions/nope/cancel")]
)
async def test_unknown_prediction_is_404_problem(api, method_path):
    method, path = method_path
    reply = await api.request(method, path)

    assert reply.status == 404
    assert reply.content_type == "application/problem+json"
    assert set(reply.body) == {"title", "detail", "status"}


async def test_unknown_api_path_is_404_problem(api):
    reply = await api.request("GET", "/trainings")

    assert reply.status == 404
    assert reply.content_type == "application/problem+json"


async def test_a_body_that_is_not_json_is_400(api):
    async with api.session.post(
        f"{api.emulator.base_url}{api.MODEL_PATH}", data=b"{nope", headers=api.headers()
    ) as reply:
        assert reply.status == 400
        assert (await reply.json(content_type=None))["title"] == "Invalid JSON"


async def test_output_files_are_served_by_the_emulator(api, emulator):
    created = (await api.create({**api.SMALL, "num_outputs": 2}, Prefer="wait=5")).body

    assert created["status"] == "succeeded"
    for url in created["output"]:
        assert url.startswith(f"{emulator.origin}/delivery/")
        status, content_type, data = await api.download(url)
        assert status == 200
        assert content_type == "image/jpeg"
        assert api.decode(data).format == "JPEG"
    assert emulator.counters.requests[Route.DELIVERY_GET] == 2


async def test_head_on_a_file_gives_its_length_without_a_body(api):
    url = (await api.create(Prefer="wait=5")).body["output"][0]
    _, _, data = await api.download(url)

    async with api.session.head(url) as reply:
        assert reply.status == 200
        assert reply.content_length == len(data)
        assert await reply.read() == b""
    assert (await api.download(url))[2] == data  # the connection is still sound


async def test_unknown_files_are_404(api, emulator):
    created = (await api.create(Prefer="wait=5")).body
    url = created["output"][0]

    for wrong in (
        url.replace("out-0", "out-1"),
        url.replace(".jpg", ".png"),
        f"{emulator.origin}/delivery/x/out-0.jpg",
    ):
        status, _, _ = await api.download(wrong)
        assert status == 404


async def test_cancel_ends_a_running_prediction_before_replying(api, emulator):
    emulator.latency = Latency(queue=5)
    created = (await api.create()).body

    reply = await api.cancel(created["id"])

    assert reply.status == 200
    assert reply.body["status"] == "canceled"
    assert emulator.counters.predictions_running == 0
    assert emulator.predictions[created["id"]].canceled_by == "user"
    assert (await api.get(created["id"])).body["status"] == "canceled"


async def test_cancel_leaves_a_finished_prediction_alone(api, emulator):
    created = (await api.create(Prefer="wait=5")).body

    reply = await api.cancel(created["id"])

    assert reply.status == 200
    assert reply.body["status"] == "succeeded"
    assert reply.body["output"] == created["output"]
    assert emulator.counters.cancels_received == 1
