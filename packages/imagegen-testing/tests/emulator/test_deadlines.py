"""``Cancel-After`` deadlines: aborted before start, canceled while running."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from imagegen_testing.emulator import Latency, ReplicateEmulator
from imagegen_testing.emulator.headers import HeaderError, parse_cancel_after, parse_go_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m45s", 5445),
        ("2h30m", 9000),
        ("90", 90),
        ("1.5s", 1.5),
        ("250ms", 0.25),
        ("1m0.5s", 60.5),
        ("1500us", 0.0015),
    ],
)
def test_go_durations(text, seconds):
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "5 m", "5x", "m5", "1h-30m", "five"])
def test_malformed_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_go_duration(text)


def test_replicates_minimum_is_five_seconds_by_default():
    assert parse_cancel_after("5s", minimum=5.0) == 5
    with pytest.raises(HeaderError, match="at least 5s"):
        parse_cancel_after("4s", minimum=5.0)
    with pytest.raises(HeaderError, match="at least"):
        parse_cancel_after("0s", minimum=0)
    assert parse_cancel_after(None, minimum=5.0) is None


async def test_deadline_before_start_aborts(api, emulator):
    emulator.latency = Latency(queue=5)

    created = (await api.create(**{"Cancel-After": "50ms"})).body
    await emulator.wait_idle(within=2)

    body = (await api.get(created["id"])).body
    assert body["status"] == "aborted"
    assert body["started_at"] is None
    assert body["completed_at"] is not None
    assert "predict_time" not in body["metrics"]
    assert emulator.predictions[created["id"]].canceled_by == "deadline"


async def test_deadline_while_running_cancels(api, emulator):
    emulator.latency = Latency(predict=5)

    created = (await api.create(**{"Cancel-After": "0.05s"})).body
    await emulator.wait_idle(within=2)

    body = (await api.get(created["id"])).body
    assert body["status"] == "canceled"
    assert body["started_at"] is not None
    assert body["metrics"]["predict_time"] >= 0
    assert body["output"] is None


async def test_deadline_field_is_creation_plus_the_duration(api):
    body = (await api.create(**{"Cancel-After": "1m"})).body

    created = datetime.fromisoformat(body["created_at"])
    deadline = datetime.fromisoformat(body["deadline"])
    assert deadline - created == timedelta(minutes=1)


async def test_without_cancel_after_there_is_no_deadline(api):
    body = (await api.create()).body

    assert "deadline" not in body


async def test_a_prediction_that_finishes_first_is_untouched(api, emulator):
    # A deadline far beyond the emulated run time: a loaded machine (xdist
    # beside other work) must not let it fire first.
    created = (await api.create(Prefer="wait=5", **{"Cancel-After": "5s"})).body
    assert created["status"] == "succeeded"

    await emulator.wait_idle()
    record = emulator.predictions[created["id"]]
    assert not record.timers
    assert (await api.get(created["id"])).body["status"] == "succeeded"


async def test_sync_wait_and_deadline_together(api, emulator):
    emulator.latency = Latency(predict=5)

    reply = await api.create(Prefer="wait=5", **{"Cancel-After": "50ms"})

    assert reply.body["status"] == "canceled"


@pytest.mark.parametrize("value", ["soon", "-5s", "0"])
async def test_an_invalid_cancel_after_is_a_400_problem(api, emulator, value):
    reply = await api.create(**{"Cancel-After": value})

    assert reply.status == 400
    assert reply.body["title"] == "Invalid Cancel-After header"
    assert emulator.counters.predictions_created == 0


async def test_the_minimum_applies_unless_lowered(session):
    async with ReplicateEmulator() as emu:
        reply = await session.post(
            f"{emu.base_url}/models/black-forest-labs/flux-schnell/predictions",
            json={"input": {"prompt": "x"}},
            headers={"Authorization": f"Bearer {emu.api_token}", "Cancel-After": "4s"},
        )
        async with reply:
            assert reply.status == 400
            assert "at least 5s" in (await reply.json(content_type=None))["detail"]
