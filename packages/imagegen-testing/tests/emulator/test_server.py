"""The runner: loopback only by default, base URL, clean start and stop."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from imagegen_testing.emulator import EMULATOR_API_TOKEN, Latency, ReplicateEmulator
from imagegen_testing.emulator.server import is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])  # noqa: S104
def test_other_hosts_are_refused_unless_allowed(host):
    assert not is_loopback(host)
    with pytest.raises(ValueError, match="not loopback"):
        ReplicateEmulator(host=host)
    ReplicateEmulator(host=host, allow_non_loopback=True)  # constructing binds nothing


async def test_base_url_is_loopback_with_the_bound_port():
    async with ReplicateEmulator() as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.base_url.endswith("/v1")
        port = int(emu.origin.rsplit(":", 1)[1])
        assert port > 0
        assert emu.base_url == f"http://127.0.0.1:{port}/v1"


async def test_ipv6_loopback_urls_are_bracketed():
    try:
        emulator = ReplicateEmulator(host="::1")
        await emulator.start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert emulator.base_url.startswith("http://[::1]:")
    finally:
        await emulator.stop()


def test_base_url_needs_a_started_emulator():
    with pytest.raises(RuntimeError, match="not started"):
        _ = ReplicateEmulator().base_url


async def test_start_twice_is_an_error_and_stop_twice_is_fine():
    emulator = ReplicateEmulator()
    await emulator.start()
    with pytest.raises(RuntimeError, match="already started"):
        await emulator.start()
    await emulator.stop()
    await emulator.stop()


async def test_stop_cancels_running_predictions_and_closes_the_port(session):
    emulator = ReplicateEmulator(latency=Latency(queue=30))
    await emulator.start()
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    url = f"{emulator.base_url}/models/black-forest-labs/flux-schnell/predictions"
    async with session.post(url, json={"input": {"prompt": "x"}}, headers=headers) as reply:
        prediction_id = (await reply.json())["id"]
    task = emulator.predictions[prediction_id].task

    await emulator.stop()

    assert task is not None
    assert task.done()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(f"{emulator.base_url}/predictions/{prediction_id}", headers=headers):
            pass


async def test_stop_releases_a_held_sync_request(session):
    emulator = ReplicateEmulator(latency=Latency(predict=30))
    await emulator.start()
    request = asyncio.create_task(
        session.post(
            f"{emulator.base_url}/models/black-forest-labs/flux-schnell/predictions",
            json={"input": {"prompt": "x"}},
            headers={"Authorization": f"Bearer {emulator.api_token}", "Prefer": "wait=60"},
        )
    )
    await asyncio.sleep(0.05)

    async with asyncio.timeout(5):
        await emulator.stop()
    async with asyncio.timeout(5):
        try:
            reply = await request
        except aiohttp.ClientError:
            return  # dropped by the shutdown: also released
    assert (await reply.json())["status"] == "canceled"
    reply.release()


async def test_wait_idle_times_out_while_predictions_run(api, emulator):
    emulator.latency = Latency(queue=30)
    await api.create()

    with pytest.raises(TimeoutError, match="1 prediction"):
        await emulator.wait_idle(within=0.05)


async def test_wait_until_returns_when_the_condition_holds(api, emulator):
    emulator.latency = Latency(queue=0.05)
    await api.create()

    await emulator.wait_until(lambda emu: emu.counters.predictions_running == 0, within=2)

    assert emulator.counters.predictions_running == 0


async def test_wait_until_times_out_with_the_counters(emulator):
    with pytest.raises(TimeoutError, match="predictions_created=0"):
        await emulator.wait_until(lambda emu: emu.counters.predictions_created == 1, within=0.02)


async def test_a_fixed_port_is_honoured(unused_tcp_port):
    async with ReplicateEmulator(port=unused_tcp_port) as emu:
        assert emu.origin == f"http://127.0.0.1:{unused_tcp_port}"


def test_repr_shows_where_not_the_token():
    emulator = ReplicateEmulator()

    assert "not started" in repr(emulator)
    assert EMULATOR_API_TOKEN not in repr(emulator)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_sync_wait": -1}, {"min_cancel_after": -1}, {"create_rate_limit": 0}],
)
def test_nonsense_settings_are_refused(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - each has its own message
        ReplicateEmulator(**kwargs)
