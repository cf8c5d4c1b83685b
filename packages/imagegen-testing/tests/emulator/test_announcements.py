"""The emulator announces a state only once it holds it.

A held sync reply renders the prediction at the first turn of the loop after
``settled`` is set (from Python 3.12 ``asyncio.wait_for`` adds no task of its
own), and a test reading the counters right after a reply relies on the reply
being counted first. These tests record what the prediction looks like at the
moment of each announcement, so they do not depend on how the loop schedules.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from imagegen_testing.emulator import Fault, Latency
from imagegen_testing.emulator.state import PredictionRecord


class _RecordingEvent(asyncio.Event):
    """An event that keeps the prediction's JSON as it was each time it is set."""

    def __init__(self, record: PredictionRecord) -> None:
        super().__init__()
        self.record = record
        self.seen: list[dict[str, Any]] = []

    def set(self) -> None:
        self.seen.append(self.record.to_json())
        super().set()


async def _watch(api, emulator, *faults: Fault) -> _RecordingEvent:
    """Create a prediction that is still queued, and watch its ``settled`` event."""
    emulator.latency = Latency(queue=0.05)
    if faults:
        emulator.script(*faults)
    reply = await api.create()
    assert reply.body["status"] == "starting"
    record = emulator.predictions[reply.body["id"]]
    watcher = _RecordingEvent(record)
    record.settled = watcher
    return watcher


@pytest.mark.parametrize(
    ("faults", "status"),
    [
        ((), "succeeded"),
        ((Fault.data_removed(),), "succeeded"),
        ((Fault.nsfw(dropped=1),), "failed"),
        ((Fault.failed_prediction(),), "failed"),
    ],
    ids=["success", "data-removed-at-completion", "all-nsfw", "failed"],
)
async def test_settled_is_set_once_the_final_state_is_in_place(api, emulator, faults, status):
    watcher = await _watch(api, emulator, *faults)

    await emulator.wait_idle()

    assert watcher.seen == [watcher.record.to_json()]
    assert watcher.seen[0]["status"] == status


async def test_data_removed_at_completion_is_never_announced_with_its_data(api, emulator):
    watcher = await _watch(api, emulator, Fault.data_removed())

    await emulator.wait_idle()

    (announced,) = watcher.seen
    assert announced["data_removed"] is True
    assert announced["output"] is None


async def test_outputs_during_an_upload_phase_are_announced_with_them(api, emulator):
    watcher = await _watch(api, emulator, Fault.slow_prediction(upload=0.05))

    await emulator.wait_idle()

    announced = watcher.seen[0]
    assert announced["status"] == "processing"
    assert len(announced["output"]) == 1
    assert watcher.seen[-1] == watcher.record.to_json()
    assert watcher.seen[-1]["status"] == "succeeded"


@pytest.mark.parametrize("when", ["queued", "running"])
async def test_a_cancel_is_announced_as_canceled(api, emulator, when):
    watcher = await _watch(api, emulator, Fault.slow_prediction(predict=5))
    if when == "running":
        await emulator.wait_until(lambda e: watcher.record.started_at is not None)

    reply = await api.cancel(watcher.record.id)

    assert watcher.seen == [reply.body]
    assert reply.body["status"] == "canceled"


async def test_a_reply_is_counted_before_the_client_can_read_it(api, emulator):
    created = await api.create(Prefer="wait=5")
    url = created.body["output"][0]
    emulator.counters.clear()
    emulator.script(Fault.slow_download(0.2))  # the body trickles out after the headers
    counted_when_the_headers_arrived: list[int] = []

    async with api.session.get(url) as response:
        counted_when_the_headers_arrived.append(emulator.counters.responses[200])
        await response.read()

    assert counted_when_the_headers_arrived == [1]
