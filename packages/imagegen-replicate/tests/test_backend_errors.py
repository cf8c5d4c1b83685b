"""Failures against the emulator: retries where safe, the right kind and detail otherwise."""

from __future__ import annotations

import asyncio
import socket

import pytest

from imagegen_core import ErrorKind, ImageGenError, ImageRequest
from imagegen_replicate import ReplicateBackend, ReplicateSettings
from imagegen_testing.emulator import Fault, Latency, ReplicateEmulator, Route

from .conftest import MakeSettings, answer_before_done


async def _fail(backend: ReplicateBackend, request: ImageRequest | None = None) -> ImageGenError:
    with pytest.raises(ImageGenError) as caught:
        await backend.generate(request or ImageRequest(prompt="x")).collect()
    return caught.value


async def _timed_failure(settings: ReplicateSettings) -> tuple[ImageGenError, float]:
    """The error a generation ends with, and the seconds it took to get there."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with ReplicateBackend(settings) as backend:
        error = await _fail(backend)
    return error, loop.time() - started


def _creates(emulator: ReplicateEmulator) -> int:
    return emulator.counters.requests[Route.MODELS_PREDICTIONS_CREATE]


async def test_429_then_success_honours_retry_after(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    # Retry-After (0.3 s) is far longer than the backoff these settings would
    # otherwise wait (10 to 50 ms): the retry must not come sooner.
    emulator.script(Fault.rate_limited(retry_after=0.3))
    loop = asyncio.get_running_loop()
    started = loop.time()
    [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert loop.time() - started >= 0.3
    assert image.url is not None
    assert _creates(emulator) == 2
    assert emulator.counters.predictions_created == 1


async def test_429_without_retry_after_backs_off_and_succeeds(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.http_error(429, detail="Request was throttled."), times=2)
    await backend.generate(ImageRequest(prompt="x")).collect()
    assert _creates(emulator) == 3


async def test_429_wait_named_only_in_the_body_is_honoured(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    detail = "Request was throttled. Expected available in 0.2 seconds."
    emulator.script(Fault.http_error(429, detail=detail))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await backend.generate(ImageRequest(prompt="x")).collect()
    assert loop.time() - started >= 0.2
    assert _creates(emulator) == 2


async def test_persistent_429_gives_up_after_max_attempts(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.rate_limited(retry_after=0.01), times=10)
    async with ReplicateBackend(make_settings(max_attempts=3)) as backend:
        error = await _fail(backend)
    assert error.kind is ErrorKind.RATE_LIMIT
    assert error.retryable
    assert error.retry_after == pytest.approx(0.01)
    assert "throttled" in error.message
    assert _creates(emulator) == 3


async def test_retries_stop_at_max_retry_time_before_max_attempts(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.rate_limited(retry_after=0.1), times=50)
    settings = make_settings(max_attempts=20, max_retry_time=0.35)
    error, took = await _timed_failure(settings)
    assert took < 1.5
    assert error.kind is ErrorKind.RATE_LIMIT
    assert 2 <= _creates(emulator) <= 4  # the time budget, not the 20 attempts, ended it


async def test_retry_after_beyond_the_retry_budget_is_not_waited_for(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.rate_limited(retry_after=30))
    async with ReplicateBackend(make_settings(max_retry_time=1.0)) as backend:
        error = await _fail(backend)
    assert error.kind is ErrorKind.RATE_LIMIT
    assert error.retry_after == 30
    assert _creates(emulator) == 1


async def test_5xx_html_on_poll_is_retried(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=0.1)
    emulator.script(Fault.http_error(502, html=True, route=Route.PREDICTIONS_GET), times=2)
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert image.metadata["status"] == "succeeded"
    assert emulator.counters.responses[502] == 2


async def test_5xx_on_poll_exhausted_is_a_server_error_with_detail(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=1.0)
    emulator.script(Fault.http_error(502, html=True, route=Route.PREDICTIONS_GET), times=5)
    async with ReplicateBackend(make_settings(wait_seconds=1, max_attempts=2)) as backend:
        error = await _fail(backend)
    assert error.kind is ErrorKind.SERVER
    assert error.status == 502
    assert "Bad Gateway" in error.message
    assert "<" not in error.message
    # The prediction was still running: it is cancelled rather than left to bill.
    assert emulator.counters.cancels_received == 1


async def test_5xx_on_create_is_not_retried(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.http_error(500, detail="internal error while scheduling"))
    error = await _fail(backend)
    assert error.kind is ErrorKind.SERVER
    assert not error.retryable
    assert "internal error while scheduling" in error.message
    assert "billed twice" in error.message
    assert _creates(emulator) == 1


async def test_connection_reset_on_create_is_not_retried(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.connection_reset(after_processing=True))
    error = await _fail(backend)
    assert error.kind is ErrorKind.CONNECTIVITY
    assert not error.retryable
    assert _creates(emulator) == 1
    assert emulator.counters.predictions_created == 1  # why it must not be repeated


async def test_connection_reset_on_poll_is_retried(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=0.1)
    emulator.script(Fault.connection_reset(route=Route.PREDICTIONS_GET))
    async with ReplicateBackend(make_settings(wait_seconds=1)) as backend:
        [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert image.url is not None


async def test_connection_refused_is_retried_then_connectivity_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ReplicateSettings(
        api_token="r8_unused_token_value",
        base_url=f"http://127.0.0.1:{port}/v1",
        max_attempts=3,
        retry_initial_backoff=0.01,
        retry_max_backoff=0.02,
    )
    async with ReplicateBackend(settings) as backend:
        error = await _fail(backend)
    assert error.kind is ErrorKind.CONNECTIVITY
    assert error.retryable  # nothing was sent, so trying again later is safe
    assert "could not reach Replicate" in error.message


async def test_invalid_input_is_invalid_request_with_replicates_detail(
    backend: ReplicateBackend,
) -> None:
    error = await _fail(backend, ImageRequest(prompt="x", options={"num_inference_steps": 9}))
    assert error.kind is ErrorKind.INVALID_REQUEST
    assert error.status == 422
    assert "num_inference_steps" in error.message


async def test_unknown_model_and_version(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    async with ReplicateBackend(make_settings(model="nobody/nothing")) as backend:
        error = await _fail(backend)
    assert (error.kind, error.status) == (ErrorKind.INVALID_REQUEST, 404)
    async with ReplicateBackend(make_settings(model="f" * 64)) as backend:
        error = await _fail(backend)
    assert (error.kind, error.status) == (ErrorKind.INVALID_REQUEST, 422)
    assert "version" in error.message.lower()


async def test_rejected_token_is_authentication_error(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    async with ReplicateBackend(make_settings(api_token="r8_wrong_token_000000000")) as backend:
        error = await _fail(backend)
    assert (error.kind, error.status) == (ErrorKind.AUTHENTICATION, 401)
    assert "valid authentication token" in error.message
    assert "r8_wrong_token_000000000" not in str(error)
    assert _creates(emulator) == 1  # never retried


async def test_missing_token_fails_before_any_request(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    async with ReplicateBackend(make_settings(api_token=None)) as backend:
        error = await _fail(backend)
    assert error.kind is ErrorKind.AUTHENTICATION
    assert "REPLICATE_API_TOKEN" in error.message
    assert emulator.counters.total_requests == 0


async def test_failed_prediction(backend: ReplicateBackend, emulator: ReplicateEmulator) -> None:
    emulator.script(Fault.failed_prediction("CUDA out of memory"))
    error = await _fail(backend)
    assert error.kind is ErrorKind.SERVER
    assert "failed: CUDA out of memory" in error.message


async def test_all_images_dropped_is_content_policy(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.nsfw(dropped=2))
    error = await _fail(backend, ImageRequest(prompt="x", num_images=2))
    assert error.kind is ErrorKind.CONTENT_POLICY
    assert "NSFW" in error.message


async def test_data_removed_says_what_happened(
    backend: ReplicateBackend, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.data_removed())
    error = await _fail(backend)
    assert error.kind is ErrorKind.CONTENT_POLICY
    assert "data_removed" in error.message
    assert "removed its output" in error.message


async def test_deadline_stops_polling_and_cancels(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=5.0)
    async with ReplicateBackend(make_settings(wait_seconds=1, timeout=0.3)) as backend:
        error = await _fail(backend)
    assert error.kind is ErrorKind.TIMEOUT
    assert "0.3 s timeout" in error.message
    assert emulator.counters.cancels_received == 1
    assert emulator.counters.predictions_running == 0


async def test_deadline_during_the_sync_wait_cancels_what_the_create_made(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # The create's reply is held for the whole 1 s sync wait (the prediction
    # takes 10 s) and only it carries the id; the 0.3 s deadline falls inside
    # it. The generation fails on time; the create finishes in the background
    # and what it made is cancelled, which closing the backend waits for.
    emulator.latency = Latency(predict=10.0)
    started = asyncio.get_running_loop().time()
    async with ReplicateBackend(make_settings(wait_seconds=1, timeout=0.3)) as backend:
        error = await _fail(backend)
        took = asyncio.get_running_loop().time() - started
        assert emulator.counters.cancels_received == 0  # the reply is not in yet
    assert took < 0.9  # the deadline, not the sync wait
    assert error.kind is ErrorKind.TIMEOUT
    assert error.message == (
        "the request creating the prediction did not finish within the 0.3 s timeout"
    )
    assert emulator.counters.predictions_created == 1
    assert emulator.counters.cancels_received == 1
    assert emulator.counters.predictions_running == 0


async def test_deadline_cuts_short_a_poll_that_keeps_being_retried(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    # Each failing poll would be retried for seconds (20 attempts, long
    # budget); the generation's timeout still ends it on time.
    answer_before_done(emulator, predict=5.0)
    emulator.script(Fault.http_error(503, route=Route.PREDICTIONS_GET), times=100)
    settings = make_settings(
        wait_seconds=1,
        timeout=0.4,
        max_attempts=20,
        retry_initial_backoff=0.1,
        retry_max_backoff=0.2,
    )
    error, took = await _timed_failure(settings)
    assert took < 2.0  # about 0.4 s, not the ~4 s of retries
    assert error.kind is ErrorKind.TIMEOUT
    assert "0.4 s timeout" in error.message
    assert emulator.counters.cancels_received == 1
    assert emulator.counters.predictions_running == 0


async def test_deadline_cuts_short_a_create_that_keeps_being_throttled(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.rate_limited(retry_after=0.2), times=100)
    settings = make_settings(timeout=0.5, max_attempts=20)
    error, took = await _timed_failure(settings)
    assert took < 2.0  # about 0.5 s, not 20 throttled attempts
    assert error.kind is ErrorKind.TIMEOUT
    assert "creating the prediction did not finish within the 0.5 s timeout" in error.message
    assert _creates(emulator) <= 5
    assert emulator.counters.predictions_created == 0


async def test_deadline_cuts_short_a_slow_output_download(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    emulator.script(Fault.slow_download(5.0))
    error, took = await _timed_failure(make_settings(download_outputs=True, timeout=0.5))
    assert took < 2.0
    assert error.kind is ErrorKind.TIMEOUT
    assert "downloading output 0 did not finish within the 0.5 s timeout" in error.message
    assert emulator.counters.cancels_received == 0  # the prediction itself had succeeded


async def test_max_polls_is_a_deadline_too(
    make_settings: MakeSettings, emulator: ReplicateEmulator
) -> None:
    answer_before_done(emulator, predict=5.0)
    async with ReplicateBackend(make_settings(wait_seconds=1, max_polls=2)) as backend:
        error = await _fail(backend)
    assert error.kind is ErrorKind.TIMEOUT
    assert "2 status polls" in error.message
    assert emulator.counters.requests[Route.PREDICTIONS_GET] == 2


@pytest.mark.parametrize(
    ("latency", "status"),
    [(Latency(queue=2.0), "aborted"), (Latency(predict=2.0), "canceled")],
)
async def test_cancel_after_deadline_on_replicates_side(
    make_settings: MakeSettings, emulator: ReplicateEmulator, latency: Latency, status: str
) -> None:
    emulator.latency = latency
    async with ReplicateBackend(make_settings(cancel_after=0.1, wait_seconds=1)) as backend:
        error = await _fail(backend)
    assert error.kind is ErrorKind.CANCELED
    assert f"was {status}" in error.message
    assert "Cancel-After" in error.message
    assert emulator.counters.cancels_received == 0  # Replicate ended it, not us
