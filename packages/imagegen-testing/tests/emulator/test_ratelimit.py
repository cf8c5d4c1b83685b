"""Replicate's documented rate limits, with its headers."""

from __future__ import annotations

import pytest

from imagegen_testing.emulator import ReplicateEmulator
from imagegen_testing.emulator.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_every_api_reply_carries_rate_limit_headers(api):
    replies = (
        await api.create(),
        await api.get("missing"),
        await api.create({"prompt": 1}),
        await api.request("GET", "/predictions/missing", headers={}),
    )
    assert [reply.status for reply in replies] == [201, 404, 422, 401]
    for reply in replies:
        assert int(reply.headers["ratelimit-remaining"]) >= 0
        assert int(reply.headers["ratelimit-reset"]) >= 1


async def test_creates_have_their_own_budget_of_600_a_minute(api):
    create = await api.create()
    poll = await api.get(create.body["id"])

    assert 598 <= int(create.headers["ratelimit-remaining"]) <= 600
    assert 2998 <= int(poll.headers["ratelimit-remaining"]) <= 3000


async def test_over_the_limit_is_a_429_with_retry_after(session):
    async with ReplicateEmulator(create_rate_limit=2) as emu:
        url = f"{emu.base_url}/models/black-forest-labs/flux-schnell/predictions"
        headers = {"Authorization": f"Bearer {emu.api_token}"}
        statuses = []
        for _ in range(3):
            async with session.post(url, json={"input": {"prompt": "x"}}, headers=headers) as reply:
                statuses.append(reply.status)
                last = reply, await reply.json(content_type=None)
        reply, body = last

        assert statuses == [201, 201, 429]
        assert reply.content_type == "application/problem+json"
        assert 1 <= int(reply.headers["Retry-After"]) <= 30
        assert body["detail"].startswith("Request was throttled. Expected available in ")
        assert emu.counters.throttled == 1
        assert emu.counters.predictions_created == 2
        async with session.get(f"{emu.base_url}/predictions/x", headers=headers) as other:
            assert other.status == 404  # other routes have their own budget


def test_bucket_refills_continuously():
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock)

    for _ in range(60):
        assert bucket.take() is None
    assert bucket.take() == pytest.approx(1.0)
    assert bucket.remaining == 0
    clock.now = 1.0
    assert bucket.remaining == 1
    assert bucket.take() is None
    assert bucket.reset == 1


def test_bucket_needs_a_positive_limit():
    with pytest.raises(ValueError, match="at least one"):
        TokenBucket(0)
