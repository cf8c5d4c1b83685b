"""Errors mapped to the protocol's kinds, and retries only where no image can be billed twice."""

from __future__ import annotations

import socket

import pytest

from imagegen_core import ErrorKind, ImageRequest
from imagegen_openai import OpenAIBackend, OpenAISettings
from imagegen_openai._problems import error_for_status, parse_duration, rate_limit_wait
from imagegen_testing.openai_emulator import (
    MODERATION_MARKER,
    OpenAIEmulator,
    OpenAIFault,
    OpenAIRoute,
)

from .conftest import FAST, failure, settings_for


async def test_moderation_refusal_is_content_policy_and_not_retryable(
    emulator: OpenAIEmulator,
) -> None:
    error = await failure(settings_for(emulator), ImageRequest(prompt=f"a cat {MODERATION_MARKER}"))
    assert error.kind is ErrorKind.CONTENT_POLICY
    assert not error.retryable
    assert "moderation_blocked" in error.message
    assert emulator.counters.requests[OpenAIRoute.GENERATIONS] == 1


async def test_dall_e_content_policy_violation_is_content_policy(emulator: OpenAIEmulator) -> None:
    error = await failure(
        settings_for(emulator, model="dall-e-3"), ImageRequest(prompt=MODERATION_MARKER)
    )
    assert error.kind is ErrorKind.CONTENT_POLICY
    assert "content_policy_violation" in error.message


async def test_insufficient_quota_is_quota_not_rate_limit_and_is_not_retried(
    emulator: OpenAIEmulator,
) -> None:
    emulator.script(OpenAIFault.insufficient_quota(), times=3)
    error = await failure(settings_for(emulator))
    assert error.kind is ErrorKind.QUOTA
    assert not error.retryable
    assert error.retry_after is None
    assert error.status == 429
    assert emulator.counters.requests[OpenAIRoute.GENERATIONS] == 1


async def test_a_429_is_retried_after_the_reset_header_then_succeeds(
    emulator: OpenAIEmulator,
) -> None:
    emulator.script(OpenAIFault.rate_limited(reset="50ms"))
    async with OpenAIBackend(settings_for(emulator)) as backend:
        [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert image.data
    assert emulator.counters.requests[OpenAIRoute.GENERATIONS] == 2
    assert emulator.counters.images_generated == 1


async def test_a_429_asking_for_longer_than_max_retry_wait_is_raised_with_its_wait(
    emulator: OpenAIEmulator,
) -> None:
    emulator.script(OpenAIFault.rate_limited(reset="6m0s", limit="tokens"))
    error = await failure(settings_for(emulator))
    assert error.kind is ErrorKind.RATE_LIMIT
    assert error.retryable
    assert error.retry_after == 360
    assert emulator.counters.requests[OpenAIRoute.GENERATIONS] == 1


async def test_throttling_by_the_rate_limiter_is_rate_limit_with_reset() -> None:
    async with OpenAIEmulator(requests_per_minute=1) as emulator:
        settings = settings_for(emulator, max_attempts=1)
        async with OpenAIBackend(settings) as backend:
            await backend.generate(ImageRequest(prompt="x")).collect()
        error = await failure(settings)
    assert error.kind is ErrorKind.RATE_LIMIT
    assert error.retry_after is not None
    assert 0 < error.retry_after <= 60
    assert emulator.counters.throttled == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_a_failure_after_the_body_was_sent_is_never_retried(
    emulator: OpenAIEmulator, status: int
) -> None:
    emulator.script(OpenAIFault.http_error(status), times=3)
    error = await failure(settings_for(emulator))
    assert not error.retryable
    assert "not repeated" in error.message
    assert emulator.counters.requests[OpenAIRoute.GENERATIONS] == 1


async def test_a_connection_reset_after_the_images_were_made_is_not_repeated(
    emulator: OpenAIEmulator,
) -> None:
    emulator.script(OpenAIFault.connection_reset(after_processing=True), times=3)
    error = await failure(settings_for(emulator))
    assert error.kind is ErrorKind.CONNECTIVITY
    assert not error.retryable
    assert emulator.counters.requests[OpenAIRoute.GENERATIONS] == 1
    assert emulator.counters.images_generated == 1, "one billed image, and only one"


async def test_a_connection_that_could_not_be_opened_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = OpenAISettings(
        **{**FAST, "max_attempts": 3}, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x"
    )
    error = await failure(settings)
    assert error.kind is ErrorKind.CONNECTIVITY
    assert error.retryable, "nothing was sent, so the caller may try again"


async def test_a_rejected_key_is_authentication_and_its_echo_is_scrubbed(
    emulator: OpenAIEmulator,
) -> None:
    wrong = "sk-wrong-key-ABCDEFGHIJKLMNOPQRSTUVWXYZ-1234"
    error = await failure(settings_for(emulator, api_key=wrong))
    assert error.kind is ErrorKind.AUTHENTICATION
    assert not error.retryable
    assert "OPENAI_API_KEY" in error.message
    assert wrong not in str(error)
    assert "1234" not in str(error), "OpenAI's masked echo of the key is dropped too"


async def test_a_proxy_html_page_becomes_a_readable_server_error(emulator: OpenAIEmulator) -> None:
    emulator.script(OpenAIFault.http_error(502, html=True))
    error = await failure(settings_for(emulator))
    assert error.kind is ErrorKind.SERVER
    assert "<html>" not in error.message
    assert "502" in error.message


async def test_no_key_at_all_fails_before_any_request(emulator: OpenAIEmulator) -> None:
    error = await failure(settings_for(emulator, api_key=None))
    assert error.kind is ErrorKind.AUTHENTICATION
    assert emulator.counters.total_requests == 0


async def test_an_invalid_request_names_what_openai_said(emulator: OpenAIEmulator) -> None:
    error = await failure(
        settings_for(emulator), ImageRequest(prompt="x", options={"bogus_field": 1})
    )
    assert error.kind is ErrorKind.INVALID_REQUEST
    assert "bogus_field" in error.message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3s", 3723.0), ("59.5s", 59.5)],
)
def test_reset_durations_are_read(value: str, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "soon", "12", "1x", "s1"])
def test_unreadable_durations_are_none(value: str) -> None:
    assert parse_duration(value) is None


def test_rate_limit_wait_prefers_retry_after_ms_then_retry_after_then_resets() -> None:
    assert rate_limit_wait({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert rate_limit_wait({"Retry-After": "9"}) == 9
    exhausted = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
        "x-ratelimit-remaining-tokens": "100",
        "x-ratelimit-reset-tokens": "30s",
    }
    assert rate_limit_wait(exhausted) == 2
    assert rate_limit_wait({}, "Please try again in 445ms.") == pytest.approx(0.445)
    assert rate_limit_wait({}) is None


def test_an_error_body_that_is_not_json_still_says_what_happened() -> None:
    error = error_for_status(503, {}, "upstream connect error", action="generating")
    assert error.kind is ErrorKind.SERVER
    assert "upstream connect error" in error.message
