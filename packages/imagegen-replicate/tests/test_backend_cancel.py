"""Interruption cancels the prediction on Replicate, bounded, without masking the cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from imagegen_core import GeneratedImage, ImageRequest
from imagegen_replicate import ReplicateBackend
from imagegen_testing.emulator import Fault, Latency, ReplicateEmulator, Route

from .conftest import FAST, MakeSettings, answer_before_done


async def _until(condition: Callable[[], bool]) -> None:
    # Emulator counters change inside its request handlers; there is no event
    # to wait on, so poll them briefly.
    async with asyncio.timeout(5.0):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def _run(backend: ReplicateBackend, request: ImageRequest) -> list[GeneratedImage]:
    return await backend.generate(request).collect()


async def _cancel_while_polling(backend: ReplicateBackend, emulator: ReplicateEmulator) -> None:
    """Start a generation, cancel its task once it polls; the cancellation must come back out."""
    task = asyncio.create_task(_run(backend, ImageRequest(prompt="x")))
    await _until(lambda: emulator.counters.predictions_running == 1)
    await asyncio.sleep(0.03)  # let it reach its polling loop
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_interruption_while_polling_cancels_the_prediction(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=10.0)
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        await _cancel_while_polling(backend, emulator)
        # The cancel runs as one of the backend's clean-ups, which closing it awaits.
        assert await backend.wait_for_cleanups()
        assert emulator.counters.cancels_received == 1
        assert emulator.counters.predictions_running == 0
        [record] = emulator.predictions.values()
        assert record.status == "canceled"


async def test_an_interruption_does_not_wait_for_a_slow_cancel(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # A Pipecat interruption waits for the generation's task to finish, and
    # every frame behind it waits too: the remote cancel must not hold it.
    # The cancellation is back while Replicate still sits on the cancel
    # request; the cancel still takes effect, awaited by closing the backend.
    answer_before_done(emulator, predict=30.0)
    emulator.script(Fault.slow_cancel(3.0))
    backend = ReplicateBackend(make_settings(wait_seconds=1))
    await _cancel_while_polling(backend, emulator)
    assert emulator.counters.predictions_running == 1  # the cancel has not taken effect yet
    assert backend.cleanups_pending == 1
    await backend.aclose()
    assert emulator.counters.cancels_received == 1
    assert emulator.counters.predictions_running == 0
    assert emulator.counters.cancels_abandoned == 0


async def _cancel_during_create(backend: ReplicateBackend, emulator: ReplicateEmulator) -> float:
    """Cancel a generation once its create arrived; return how long the cancellation took."""
    task = asyncio.create_task(_run(backend, ImageRequest(prompt="x")))
    await _until(lambda: emulator.counters.predictions_created == 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return loop.time() - started


async def test_interruption_during_the_create_cancels_it_with_the_default_sync_wait(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # Issue 9, point 1. The create is held for the whole sync wait (Prefer:
    # wait) and only its reply carries the id. With the old 60 s default the
    # clean-up gave up first and the prediction ran on, billed; the short
    # default lets the create come back in time to be cancelled.
    emulator.latency = Latency(predict=30.0)
    backend = ReplicateBackend(make_settings())  # the default sync wait
    # The interruption does not wait for the sync wait:
    assert await _cancel_during_create(backend, emulator) < 1.0
    await backend.aclose()  # waits for the cancel still in flight
    assert emulator.counters.cancels_received == 1
    assert emulator.counters.predictions_running == 0
    [record] = emulator.predictions.values()
    assert record.status == "canceled"


async def test_interruption_during_the_sync_wait_cancels_once_the_reply_is_in(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, sync_wait=0.3, predict=10.0)
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        await _cancel_during_create(backend, emulator)
        assert emulator.counters.cancels_received == 0  # the reply is not in yet
        assert await backend.wait_for_cleanups(timeout=5.0)
        assert emulator.counters.cancels_received == 1
        assert emulator.counters.predictions_running == 0


async def test_the_background_cancel_is_bounded_by_the_sync_wait_and_cleanup_timeout(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # The cancel request hangs; the clean-up gives up after the sync wait
    # (1 s) plus cleanup_timeout (0.2 s), and Cancel-After is what stops the
    # prediction then.
    answer_before_done(emulator, sync_wait=1.0, predict=10.0)
    emulator.script(Fault.slow_cancel(30.0))
    settings = make_settings(wait_seconds=1, cleanup_timeout=0.2)
    async with ReplicateBackend(settings) as backend:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await _cancel_during_create(backend, emulator)
        assert await backend.wait_for_cleanups(timeout=5.0)
        assert loop.time() - started < 1.8
        assert emulator.counters.cancels_received == 1
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
        await _cancel_while_polling(backend, emulator)
    assert emulator.counters.requests[Route.PREDICTIONS_CANCEL] == 2
    [record] = emulator.predictions.values()
    assert record.status == "canceled"


async def test_cancel_request_failing_every_time_still_ends_in_the_cancellation(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=10.0)
    emulator.script(Fault.http_error(500, route=Route.PREDICTIONS_CANCEL), times=10)
    async with ReplicateBackend(make_settings(wait_seconds=1, max_attempts=3)) as backend:
        # The clean-up's own failure is logged, never raised in place of the cancellation.
        await _cancel_while_polling(backend, emulator)
    assert emulator.counters.requests[Route.PREDICTIONS_CANCEL] == 3


async def test_caller_timeout_still_sees_its_timeout(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # asyncio.timeout turns *its own* cancellation into TimeoutError; it can
    # only do so if the backend re-raises that cancellation as it came.
    answer_before_done(emulator, predict=10.0)
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await _run(backend, ImageRequest(prompt="x"))
    assert emulator.counters.cancels_received == 1
    assert emulator.counters.predictions_running == 0


@pytest.fixture
async def hanging_cancel() -> AsyncIterator[tuple[str, list[str]]]:
    """A stand-in API whose prediction never finishes and whose cancel never answers."""
    cancels: list[str] = []

    def prediction(request: web.Request) -> dict[str, Any]:
        base = f"http://{request.host}/v1/predictions/stuck"
        return {
            "id": "stuck",
            "status": "processing",
            "output": None,
            "urls": {"get": base, "cancel": f"{base}/cancel"},
        }

    async def create(request: web.Request) -> web.Response:
        return web.json_response(prediction(request), status=201)

    async def get(request: web.Request) -> web.Response:
        return web.json_response(prediction(request))

    async def cancel(request: web.Request) -> web.Response:
        cancels.append(request.match_info["id"])
        await asyncio.sleep(30)
        return web.json_response(prediction(request))

    app = web.Application()
    app.router.add_post("/v1/models/black-forest-labs/flux-schnell/predictions", create)
    app.router.add_get("/v1/predictions/{id}", get)
    app.router.add_post("/v1/predictions/{id}/cancel", cancel)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1", cancels
    finally:
        await runner.cleanup()


async def test_cancellation_is_bounded_when_the_cancel_request_hangs(
    hanging_cancel: tuple[str, list[str]],
) -> None:
    base_url, cancels = hanging_cancel
    settings = {**FAST, "api_token": "stand-in", "base_url": base_url, "cleanup_timeout": 0.3}
    async with ReplicateBackend({**settings, "wait_seconds": 1}) as backend:
        task = asyncio.create_task(_run(backend, ImageRequest(prompt="x")))
        await asyncio.sleep(0.1)  # created, now polling
        loop = asyncio.get_running_loop()
        started = loop.time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert loop.time() - started < 1.5  # cleanup_timeout (0.3 s), not the 30 s hang
    assert cancels == ["stuck"]


async def test_closing_the_backend_waits_for_a_slow_cancel_cancelled_again(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # Issue 9, point 2: a failing generation cancels its prediction before
    # raising, and the task is cancelled a second time while that cancel
    # request is still out (an app tearing down); the cancel goes on in the
    # background, and aclose must not close the session under it. (An
    # interruption's cancel runs in the background from the start: see
    # test_an_interruption_does_not_wait_for_a_slow_cancel.)
    answer_before_done(emulator, predict=10.0)
    emulator.script(Fault.http_error(400, route=Route.PREDICTIONS_GET))
    emulator.script(Fault.slow_cancel(1.0))
    backend = ReplicateBackend(make_settings(wait_seconds=1))
    task = asyncio.create_task(_run(backend, ImageRequest(prompt="x")))
    await _until(lambda: emulator.counters.cancels_received == 1)
    assert not task.done()  # still waiting for the failure's cancel
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert emulator.counters.predictions_running == 1  # the cancel has not taken effect yet
    await backend.aclose()
    assert emulator.counters.cancels_abandoned == 0
    assert emulator.counters.predictions_running == 0
