"""ReplicateProvider: the emulator by default, the live API when a token is set."""

import asyncio

import aiohttp
import pytest
from pydantic import SecretStr

from imagegen_testing.conformance import ReplicateCassettes, ReplicateProvider, Scenario
from imagegen_testing.conformance.replicate import REPLICATE_API, REPLICATE_DELIVERY

TOKEN = "r8_NotARealTokenForThisTest00"
LIVE = {"REPLICATE_API_TOKEN": TOKEN}


async def test_the_emulator_without_a_token() -> None:
    provider = ReplicateProvider(environ={})
    assert not provider.live
    settings = await provider.start(Scenario.BASIC)
    try:
        base_url = settings["base_url"]
        assert base_url.startswith("http://127.0.0.1:")
        token = settings["api_token"]
        assert isinstance(token, SecretStr)
        assert list(provider.secrets()) == [token.get_secret_value()]
        url_map = provider.url_map()
        assert url_map[base_url] == REPLICATE_API
        assert url_map[base_url.removesuffix("/v1") + "/delivery/"] == REPLICATE_DELIVERY
        assert provider.remote_jobs_running() == 0
    finally:
        await provider.stop()
    assert provider.remote_jobs_running() is None


async def test_scenarios_are_scripted_on_the_emulator() -> None:
    provider = ReplicateProvider(environ={}, slow_predict=5.0)
    settings = await provider.start(Scenario.CANCEL)
    headers = {"Authorization": f"Bearer {settings['api_token'].get_secret_value()}"}
    url = f"{settings['base_url']}/models/black-forest-labs/flux-schnell/predictions"
    try:
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.post(url, json={"input": {"prompt": "x", "megapixels": "0.25"}}) as reply,
        ):
            assert (await reply.json())["status"] in {"starting", "processing"}
        assert provider.remote_jobs_running() == 1
        # The emulator's own server tasks are not the backend's leftovers.
        owned = [t for t in asyncio.all_tasks() if provider.owns_task(t)]
        assert owned
        assert not provider.owns_task(asyncio.current_task())  # type: ignore[arg-type]
    finally:
        await provider.stop()


@pytest.mark.parametrize(
    ("environ", "live", "expected"),
    [
        ({}, None, False),
        ({"REPLICATE_API_TOKEN": "  "}, None, False),
        (LIVE, None, True),
        ({**LIVE, "IMAGEGEN_RECORD_LIVE": "0"}, None, False),
        ({**LIVE, "IMAGEGEN_RECORD_LIVE": "1"}, None, True),
        (LIVE, False, False),
        ({**LIVE, "IMAGEGEN_RECORD_LIVE": "1"}, False, False),
        ({**LIVE, "IMAGEGEN_RECORD_LIVE": "0"}, True, True),
    ],
)
def test_live_exactly_when_a_token_is_set_unless_told_otherwise(
    environ: dict[str, str], live: bool | None, expected: bool
) -> None:
    assert ReplicateProvider(environ=environ, live=live).live is expected


@pytest.mark.parametrize(
    ("environ", "live", "message"),
    [
        ({"IMAGEGEN_RECORD_LIVE": "1"}, None, "REPLICATE_API_TOKEN"),
        ({}, True, "REPLICATE_API_TOKEN"),
        ({**LIVE, "IMAGEGEN_RECORD_LIVE": "yes"}, None, "must be 0"),
    ],
)
def test_impossible_choices_are_errors(
    environ: dict[str, str], live: bool | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ReplicateProvider(environ=environ, live=live)


def test_the_shipped_cassettes_record_live_exactly_when_a_token_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    monkeypatch.delenv("IMAGEGEN_RECORD_LIVE", raising=False)
    provider = ReplicateCassettes().live_provider()
    assert isinstance(provider, ReplicateProvider)
    assert not provider.live

    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    provider = ReplicateCassettes().live_provider()
    assert isinstance(provider, ReplicateProvider)
    assert provider.live

    monkeypatch.setenv("IMAGEGEN_RECORD_LIVE", "0")
    provider = ReplicateCassettes().live_provider()
    assert isinstance(provider, ReplicateProvider)
    assert not provider.live


async def test_live_recording_uses_the_token_and_the_real_api() -> None:
    provider = ReplicateProvider(environ=LIVE)
    assert provider.live
    settings = await provider.start(Scenario.BASIC)
    assert settings["base_url"] == REPLICATE_API
    assert settings["api_token"].get_secret_value() == TOKEN
    assert provider.emulator is None
    assert list(provider.secrets()) == [TOKEN]
    assert provider.url_map() == {}
    assert provider.remote_jobs_running() is None
    assert provider.cannot_run(Scenario.BASIC) is None
    assert "emulator" in (provider.cannot_run(Scenario.FAILURE) or "")
    assert "emulator" in (provider.cannot_run(Scenario.CANCEL) or "")
    await provider.stop()
