"""The bearer token is checked on every API route and never leaks."""

from __future__ import annotations

import logging

import pytest

from imagegen_testing.emulator import EMULATOR_API_TOKEN, ReplicateEmulator, Route

API_CALLS = [
    ("POST", "/models/black-forest-labs/flux-schnell/predictions"),
    ("POST", "/predictions"),
    ("POST", "/deployments/imagegen/flux-schnell/predictions"),
    ("GET", "/predictions/anything"),
    ("POST", "/predictions/anything/cancel"),
]


def test_the_default_token_is_the_published_fake():
    emulator = ReplicateEmulator()

    assert emulator.api_token == EMULATOR_API_TOKEN
    assert EMULATOR_API_TOKEN.startswith("r8_")


@pytest.mark.parametrize(("method", "path"), API_CALLS)
async def test_missing_token_is_401_problem(api, emulator, method, path):
    reply = await api.request(method, path, json={"input": api.SMALL}, headers={})

    assert reply.status == 401
    assert reply.content_type == "application/problem+json"
    assert reply.body == {
        "title": "Unauthenticated",
        "detail": "You did not pass an authentication token",
        "status": 401,
    }
    assert emulator.counters.predictions_created == 0


@pytest.mark.parametrize(
    "header",
    [f"Bearer {EMULATOR_API_TOKEN}x", "Bearer ", "Basic dXNlcjpwYXNz", EMULATOR_API_TOKEN],
    ids=["wrong-token", "empty", "other-scheme", "no-scheme"],
)
async def test_wrong_token_is_401_problem(api, emulator, header):
    reply = await api.request(
        "POST", api.MODEL_PATH, json={"input": api.SMALL}, headers={"Authorization": header}
    )

    assert reply.status == 401
    assert reply.body["detail"] == "You did not pass a valid authentication token"
    assert emulator.counters.predictions_created == 0
    assert emulator.counters.requests[Route.MODELS_PREDICTIONS_CREATE] == 1


async def test_legacy_token_scheme_is_accepted(api):
    reply = await api.request(
        "POST",
        api.MODEL_PATH,
        json={"input": api.SMALL},
        headers={"Authorization": f"Token {EMULATOR_API_TOKEN}"},
    )

    assert reply.status == 201


async def test_a_custom_token_replaces_the_default(session):
    async with ReplicateEmulator(api_token="r8_custom_emulator_token") as emu:
        url = f"{emu.base_url}/predictions/x"
        async with session.get(
            url, headers={"Authorization": f"Bearer {EMULATOR_API_TOKEN}"}
        ) as reply:
            assert reply.status == 401
        async with session.get(
            url, headers={"Authorization": "Bearer r8_custom_emulator_token"}
        ) as reply:
            assert reply.status == 404


def test_an_empty_token_is_refused():
    with pytest.raises(ValueError, match="api_token"):
        ReplicateEmulator(api_token="")


async def test_files_need_no_token_and_tokens_sent_to_them_are_counted(api, emulator):
    url = (await api.create(Prefer="wait=5")).body["output"][0]

    async with api.session.get(url) as reply:
        assert reply.status == 200
    assert emulator.counters.files_with_authorization == 0
    async with api.session.get(url, headers=api.headers()) as reply:
        assert reply.status == 200
    assert emulator.counters.files_with_authorization == 1


async def test_the_token_is_never_logged(session, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    async with ReplicateEmulator(access_log=True) as emu:
        headers = {"Authorization": f"Bearer {emu.api_token}", "Prefer": "wait=5"}
        async with session.post(
            f"{emu.base_url}/models/black-forest-labs/flux-schnell/predictions",
            json={"input": {"prompt": "x", "megapixels": "0.25", "output_format": "jpg"}},
            headers=headers,
        ) as reply:
            created = await reply.json()
        async with session.get(
            created["urls"]["get"], headers={"Authorization": "Bearer r8_a_wrong_token"}
        ):
            pass

    logged = caplog.text + "".join(capsys.readouterr())
    assert "POST /v1/models" in logged  # the access log did run
    assert EMULATOR_API_TOKEN not in logged
    assert "r8_a_wrong_token" not in logged
    assert EMULATOR_API_TOKEN not in repr(emu)
    assert EMULATOR_API_TOKEN not in repr(emu.counters)
