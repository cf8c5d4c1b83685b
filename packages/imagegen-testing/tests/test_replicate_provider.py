"""ReplicateProvider: the emulator by default, the live API only with an explicit opt-in."""

import asyncio

import aiohttp
import pytest
from pydantic import SecretStr

from imagegen_testing.conformance import ReplicateProvider, Scenario
from imagegen_testing.conformance.replicate import REPLICATE_API, REPLICATE_DELIVERY

LIVE = {"IMAGEGEN_RECORD_LIVE": "1", "REPLICATE_API_TOKEN": "r8_NotARealTokenForThisTest00"}


async def test_emulator_by_default_even_with_a_token_in_the_environment() -> None:
    provider = ReplicateProvider(environ={"REPLICATE_API_TOKEN": LIVE["REPLICATE_API_TOKEN"]})
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


async def test_live_recording_needs_the_opt_in_and_the_token() -> None:
    with pytest.raises(ValueError, match="REPLICATE_API_TOKEN"):
        ReplicateProvider(environ={"IMAGEGEN_RECORD_LIVE": "1"})
    provider = ReplicateProvider(environ=LIVE)
    assert provider.live
    settings = await provider.start(Scenario.BASIC)
    assert settings["base_url"] == REPLICATE_API
    assert settings["api_token"].get_secret_value() == LIVE["REPLICATE_API_TOKEN"]
    assert provider.emulator is None
    assert list(provider.secrets()) == [LIVE["REPLICATE_API_TOKEN"]]
    assert provider.url_map() == {}
    assert provider.remote_jobs_running() is None
    assert provider.cannot_run(Scenario.BASIC) is None
    assert "emulator" in (provider.cannot_run(Scenario.FAILURE) or "")
    assert "emulator" in (provider.cannot_run(Scenario.CANCEL) or "")
    await provider.stop()
