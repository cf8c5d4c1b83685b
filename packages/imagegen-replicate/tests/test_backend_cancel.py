"""Interruption cancels the prediction on Replicate, bounded, without masking the cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from imagegen_core import GeneratedImage, ImageRequest
from imagegen_replicate import ReplicateBackend
from imagegen_testing.emulator import Fault, Latency, ReplicateEmulator, Route

from .conftest import MakeSettings, answer_before_done


async def _until(condition: Callable[[], bool]) -> None:
    # Emulator counters change inside its request handlers; there is no event
    # to wait on, so poll them briefly.
    async with asyncio.timeout(5.0):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def _run(backend: ReplicateBackend, request: ImageRequest) -> list[GeneratedImage]:
    return await backend.generate(request).collect()


async def test_interruption_while_polling_cancels_the_prediction(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=10.0)
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        task = asyncio.create_task(_run(backend, ImageRequest(prompt="x")))
        await _until(lambda: emulator.counters.predictions_running == 1)
        await asyncio.sleep(0.03)  # let it reach its polling loop
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The cancel was sent before the cancellation finished, not afterwards.
        assert emulator.counters.cancels_received == 1
        assert emulator.counters.predictions_running == 0
        [record] = emulator.predictions.values()
        assert record.status == "canceled"


async def test_interruption_during_the_sync_wait_still_cancels(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # The create request is held open (Prefer: wait); only its reply carries
    # the prediction id, so cancellation lets it finish (bounded), then cancels.
    answer_before_done(emulator, sync_wait=0.3, predict=10.0)
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        task = asyncio.create_task(_run(backend, ImageRequest(prompt="x")))
        await _until(lambda: emulator.counters.predictions_created == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert emulator.counters.cancels_received == 1
        assert emulator.counters.predictions_running == 0


async def test_cancellation_is_bounded_by_cleanup_timeout(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # The sync wait outlasts the clean-up budget: the cancellation still
    # finishes in time (Cancel-After is what stops the prediction then).
    answer_before_done(emulator, sync_wait=1.0, predict=10.0)
    settings = make_settings(wait_seconds=1, cleanup_timeout=0.2)
    async with ReplicateBackend(settings) as backend:
        task = asyncio.create_task(_run(backend, ImageRequest(prompt="x")))
        await _until(lambda: emulator.counters.predictions_created == 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert loop.time() - started < 0.8  # not the 1 s the sync wait would take
        [record] = emulator.predictions.values()
        assert record.cancel_after is not None


async def test_consumer_stopping_early_cancels_the_rest(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.latency = Latency(upload=5.0)  # files visible, status still "processing"
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        generation = backend.generate(ImageRequest(prompt="x", num_images=2, seed=1))
        first = await anext(generation)
        assert first.url is not None
        await generation.aclose()
    assert emulator.counters.cancels_received == 1


async def test_finished_predictions_are_not_cancelled(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    await backend.generate(ImageRequest(prompt="x")).collect()
    assert emulator.counters.cancels_received == 0


async def test_a_failed_cancel_request_is_retried(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=10.0)
    emulator.script(Fault.http_error(503, route=Route.PREDICTIONS_CANCEL))
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        task = asyncio.create_task(_run(backend, ImageRequest(prompt="x")))
        await _until(lambda: emulator.counters.predictions_running == 1)
        await asyncio.sleep(0.03)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert emulator.counters.requests[Route.PREDICTIONS_CANCEL] == 2
    [record] = emulator.predictions.values()
    assert record.status == "canceled"
