"""finish_cleanup: remote clean-up is finished, bounded in time, and never eats a cancellation."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from imagegen_core import finish_cleanup


async def test_successful_cleanup_returns_true() -> None:
    done: list[str] = []

    async def cleanup() -> None:
        await asyncio.sleep(0)
        done.append("cancelled remotely")

    assert await finish_cleanup(cleanup()) is True
    assert done == ["cancelled remotely"]


async def test_failing_cleanup_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def cleanup() -> None:
        raise ConnectionResetError("secret-bearing detail")

    with caplog.at_level(logging.WARNING, logger="imagegen"):
        assert await finish_cleanup(cleanup(), what="cancelling job-1") is False

    assert "cancelling job-1 failed: ConnectionResetError" in caplog.text
    assert "secret-bearing detail" not in caplog.text


async def test_slow_cleanup_is_abandoned_after_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    finished = asyncio.Event()
    abandoned = asyncio.Event()

    async def cleanup() -> None:
        try:
            await asyncio.sleep(30)
            finished.set()
        except asyncio.CancelledError:
            abandoned.set()
            raise

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="imagegen"):
        assert await finish_cleanup(cleanup(), timeout=0.05, what="slow cancel") is False

    assert time.monotonic() - started < 5
    await asyncio.wait_for(abandoned.wait(), 5)
    assert not finished.is_set()
    assert "slow cancel did not finish within" in caplog.text


async def test_cleanup_runs_inside_a_cancelled_task_which_stays_cancelled() -> None:
    cleaned = asyncio.Event()
    started = asyncio.Event()

    async def cleanup() -> None:
        await asyncio.sleep(0.01)
        cleaned.set()

    async def work() -> None:
        try:
            started.set()
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await finish_cleanup(cleanup())
            raise

    task = asyncio.create_task(work())
    await started.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert cleaned.is_set()


async def test_second_cancellation_is_honoured_and_cleanup_goes_on() -> None:
    in_cleanup = asyncio.Event()
    release = asyncio.Event()
    cleaned = asyncio.Event()
    result: list[bool] = []

    async def cleanup() -> None:
        in_cleanup.set()
        await release.wait()
        cleaned.set()

    async def work() -> None:
        result.append(await finish_cleanup(cleanup(), timeout=30))

    task = asyncio.create_task(work())
    await in_cleanup.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert result == []  # finish_cleanup did not return normally: the cancel propagated

    release.set()
    await asyncio.wait_for(cleaned.wait(), 5)
