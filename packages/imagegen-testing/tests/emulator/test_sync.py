"""Sync mode: ``Prefer: wait`` holds the create, and may still answer unfinished."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest

from imagegen_testing.emulator import Fault, Latency, ReplicateEmulator


async def test_without_prefer_the_create_answers_at_once(api, emulator):
    emulator.latency = Latency(predict=5)
    started = time.monotonic()

    reply = await api.create()

    assert time.monotonic() - started < 2
    assert reply.status == 201
    assert reply.body["status"] == "starting"
    assert "Preference-Applied" not in reply.headers


@pytest.mark.parametrize(
    ("prefer", "applied"),
    [("wait", "wait"), ("wait=5", "wait=5"), ("respond-async, wait=7", "wait=7")],
)
async def test_prefer_wait_holds_until_done_and_says_so(api, emulator, prefer, applied):
    emulator.latency = Latency(queue=0.01, predict=0.02)

    reply = await api.create(Prefer=prefer)

    assert reply.status == 201
    assert reply.body["status"] == "succeeded"
    assert reply.body["output"][0].startswith("http://")
    assert reply.headers["Preference-Applied"] == applied


async def test_a_sync_reply_can_still_be_starting(api, emulator):
    emulator.latency = Latency(queue=5)
    emulator.max_sync_wait = 0.05
    started = time.monotonic()

    reply = await api.create(Prefer="wait=1")

    assert 0.04 <= time.monotonic() - started < 0.9
    assert reply.status == 201
    assert reply.body["status"] == "starting"
    assert reply.headers["Preference-Applied"] == "wait=1"


async def test_a_sync_reply_waits_the_whole_n_seconds_without_a_cap(api, emulator):
    emulator.latency = Latency(predict=5)
    started = time.monotonic()

    reply = await api.create(Prefer="wait=1")

    assert 0.9 <= time.monotonic() - started < 3
    assert reply.body["status"] == "processing"


async def test_a_sync_reply_returns_outputs_while_still_processing(api, emulator):
    emulator.latency = Latency(upload=0.5)

    reply = await api.create(Prefer="wait=5")

    assert reply.body["status"] == "processing"
    assert len(reply.body["output"]) == 1
    assert reply.body["completed_at"] is None
    await emulator.wait_idle()
    assert (await api.get(reply.body["id"])).body["status"] == "succeeded"


@pytest.mark.parametrize("prefer", ["wait=0", "wait=61", "wait=abc", "wait=", "wait=1.5"])
async def test_an_invalid_wait_is_a_400_problem(api, emulator, prefer):
    reply = await api.create(Prefer=prefer)

    assert reply.status == 400
    assert reply.content_type == "application/problem+json"
    assert reply.body["title"] == "Invalid Prefer header"
    assert "1 to 60" in reply.body["detail"]
    assert emulator.counters.predictions_created == 0


async def test_other_preferences_are_ignored(api):
    reply = await api.create(Prefer="return=minimal")

    assert reply.status == 201
    assert "Preference-Applied" not in reply.headers


async def test_data_urls_in_sync_replies_when_switched_on(api, emulator):
    emulator.data_urls = True

    reply = await api.create({**api.SMALL, "num_outputs": 2}, Prefer="wait=5")

    outputs = reply.body["output"]
    assert len(outputs) == 2
    for output in outputs:
        header, _, payload = output.partition(",")
        assert header == "data:image/jpeg;base64"
        assert api.decode(base64.b64decode(payload)).format == "JPEG"
    polled = (await api.get(reply.body["id"])).body["output"]
    assert all(url.startswith("http://") for url in polled)


async def test_data_urls_only_for_sync_replies(api, emulator):
    emulator.data_urls = True

    created = (await api.create()).body
    await emulator.wait_idle()

    assert created["output"] is None
    assert (await api.get(created["id"])).body["output"][0].startswith("http://")


async def test_data_urls_per_request(api, emulator):
    emulator.script(Fault.data_urls())

    first = await api.create(Prefer="wait=5")
    second = await api.create(Prefer="wait=5")

    assert first.body["output"][0].startswith("data:image/jpeg;base64,")
    assert second.body["output"][0].startswith("http://")


async def test_a_sync_reply_in_processing_can_carry_data_urls(api, emulator):
    emulator.data_urls = True
    emulator.latency = Latency(upload=0.5)

    reply = await api.create(Prefer="wait=5")

    assert reply.body["status"] == "processing"
    assert reply.body["output"][0].startswith("data:")


async def test_a_client_leaving_a_sync_request_does_not_stop_the_prediction(session):
    async with ReplicateEmulator(latency=Latency(predict=0.2)) as emu:
        headers = {"Authorization": f"Bearer {emu.api_token}", "Prefer": "wait=60"}
        request = asyncio.create_task(
            session.post(
                f"{emu.base_url}/models/black-forest-labs/flux-schnell/predictions",
                json={"input": {"prompt": "x", "megapixels": "0.25", "output_format": "jpg"}},
                headers=headers,
            )
        )
        # The client leaves once the emulator holds a running prediction, not
        # after a fixed time: on a loaded machine the request may not have
        # arrived by then, or the prediction may have finished.
        await emu.wait_until(lambda e: e.counters.predictions_running == 1)
        (record,) = emu.predictions.values()
        left_while = record.status
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        await emu.wait_idle()
        assert left_while in {"starting", "processing"}
        assert record.status == "succeeded"
