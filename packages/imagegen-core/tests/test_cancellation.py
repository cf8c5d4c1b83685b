"""finish_cleanup: remote clean-up is finished, bounded in time, and never eats a cancellation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from imagegen_core import (
    BackendSettings,
    Capabilities,
    GeneratedImage,
    ImageBackend,
    ImageRequest,
    cleanup_in_background,
    finish_cleanup,
)


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


class _Settings(BackendSettings):
    background: bool = True


class _SlowToCancel(ImageBackend[_Settings]):
    """Starts "remote work", and on cancellation cancels it slowly (0.2 s)."""

    name: ClassVar[str] = "slow-to-cancel"
    settings_model: ClassVar[type[BackendSettings]] = _Settings
    capabilities = Capabilities()  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.cancelled_remotely = asyncio.Event()

    async def _cancel_remote(self) -> None:
        await asyncio.sleep(0.2)
        self.cancelled_remotely.set()

    async def _generate(self, request: ImageRequest) -> AsyncIterator[GeneratedImage]:
        self.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            if self.settings.background:
                cleanup_in_background(self._cancel_remote(), what="cancelling")
            else:
                await finish_cleanup(self._cancel_remote(), what="cancelling")
            raise
        yield GeneratedImage(data=b"never", media_type="image/png")


@pytest.mark.parametrize("background", [True, False])
async def test_closing_a_backend_waits_for_its_cleanups_in_flight(background: bool) -> None:
    # Issue 9, point 2. In the background case the cancellation finishes at
    # once; in the other, the task is cancelled twice, which leaves the
    # clean-up running on its own. Either way aclose() waits for it.
    backend = _SlowToCancel()
    backend.update_settings(background=background)
    task = asyncio.create_task(backend.generate(ImageRequest(prompt="x")).collect())
    await backend.started.wait()
    task.cancel()
    if not background:
        await asyncio.sleep(0.01)
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not backend.cancelled_remotely.is_set()
    await backend.aclose()
    assert backend.cancelled_remotely.is_set()


async def test_waiting_for_cleanups_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    from imagegen_core._cancellation import CleanupTracker, tracking_cleanups

    tracker = CleanupTracker()
    with tracking_cleanups(tracker):
        cleanup_in_background(asyncio.sleep(30), timeout=60.0, what="stuck cancel")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="imagegen"):
        assert await tracker.wait(timeout=0.05) is False
    assert time.monotonic() - started < 5
    assert tracker.pending == 1
    assert "still running after" in caplog.text
