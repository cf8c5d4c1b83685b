"""Which failures the transport retries, and where it sends the token."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from pydantic import SecretStr
from tenacity import AsyncRetrying, RetryCallState

from imagegen_core import ErrorKind, ImageGenError
from imagegen_replicate import ReplicateSettings
from imagegen_replicate._transport import ReplicateTransport, _should_retry, same_origin
from imagegen_replicate._wire import Prediction, parse_prediction

BASE = "https://api.replicate.com/v1"


def _connection_key() -> ConnectionKey:
    return ConnectionKey("api.replicate.com", 443, True, True, None, None, None)


def _error(status: int, kind: ErrorKind) -> ImageGenError:
    return ImageGenError("x", kind=kind, status=status)


@pytest.mark.parametrize(
    ("failure", "on_create", "on_poll_or_cancel"),
    [
        # Throttled: nothing happened, always safe to repeat.
        (_error(429, ErrorKind.RATE_LIMIT), True, True),
        # Server errors and breaks mid-request: the create may have happened.
        (_error(500, ErrorKind.SERVER), False, True),
        (_error(503, ErrorKind.SERVER), False, True),
        (_error(504, ErrorKind.TIMEOUT), False, True),
        (aiohttp.ServerDisconnectedError(), False, True),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), False, True),
        (TimeoutError(), False, True),
        # The connection never opened: nothing was sent.
        (aiohttp.ClientConnectorError(_connection_key(), OSError(111, "refused")), True, True),
        # Never worth repeating.
        (_error(401, ErrorKind.AUTHENTICATION), False, False),
        (_error(422, ErrorKind.INVALID_REQUEST), False, False),
        (_error(404, ErrorKind.INVALID_REQUEST), False, False),
        (ValueError("a bug"), False, False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_retry_policy(failure: BaseException, on_create: bool, on_poll_or_cancel: bool) -> None:
    assert _should_retry(failure, idempotent=False) is on_create
    assert _should_retry(failure, idempotent=True) is on_poll_or_cancel


def test_same_origin() -> None:
    assert same_origin(f"{BASE}/predictions/abc", BASE)
    assert same_origin("HTTPS://API.replicate.com/v1/x", BASE)
    assert not same_origin("http://api.replicate.com/v1/x", BASE)  # scheme differs
    assert not same_origin("https://api.replicate.com:8443/v1/x", BASE)
    assert not same_origin("https://evil.example/v1/predictions/abc", BASE)


async def test_links_are_followed_only_on_the_api_origin() -> None:
    async with aiohttp.ClientSession() as session:
        token = "r8_token_for_tests_only"
        transport = ReplicateTransport(session, ReplicateSettings(), BASE, SecretStr(token))
        own = _reply(
            {"id": "p1", "urls": {"get": f"{BASE}/predictions/p1?x=1", "cancel": f"{BASE}/c"}}
        )
        assert transport.prediction_url(own, "get") == f"{BASE}/predictions/p1?x=1"
        assert transport.prediction_url(own, "cancel") == f"{BASE}/c"
        foreign = _reply({"id": "p2", "urls": {"get": "https://evil.example/steal"}})
        assert transport.prediction_url(foreign, "get") == f"{BASE}/predictions/p2"
        assert transport.prediction_url(foreign, "cancel") == f"{BASE}/predictions/p2/cancel"
        without_links = _reply({"id": "p3"})
        assert transport.prediction_url(without_links, "get") == f"{BASE}/predictions/p3"
        # A reply without an id is refused where it arrives, before any link is built.
        with pytest.raises(ImageGenError, match="no prediction id"):
            _reply({"urls": {}})
        assert token not in repr(transport)


def _reply(fields: dict[str, Any]) -> Prediction:
    body = json.dumps({"status": "processing", **fields})
    return parse_prediction(body, status=200, action="polling")


def _after_failure(error: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(AsyncRetrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def _waits(transport: ReplicateTransport, error: BaseException, attempt: int) -> list[float]:
    return [transport._wait(_after_failure(error, attempt)) for _ in range(40)]


async def test_backoff_grows_and_is_jittered() -> None:
    settings = ReplicateSettings(retry_initial_backoff=0.5, retry_max_backoff=8.0)
    async with aiohttp.ClientSession() as session:
        transport = ReplicateTransport(session, settings, BASE, SecretStr("r8_x"))
        server_error = _error(503, ErrorKind.SERVER)
        first, third, tenth = (_waits(transport, server_error, n) for n in (1, 3, 10))
    assert all(0.5 <= wait <= 1.0 for wait in first)
    assert all(2.0 <= wait <= 2.5 for wait in third)
    assert all(8.0 <= wait <= 8.5 for wait in tenth)  # capped at retry_max_backoff
    for waits in (first, third, tenth):
        assert len(set(waits)) > 1  # jitter: clients failing together do not retry together


async def test_retry_after_is_a_floor_with_jitter() -> None:
    settings = ReplicateSettings(retry_initial_backoff=0.5, retry_max_backoff=8.0)
    async with aiohttp.ClientSession() as session:
        transport = ReplicateTransport(session, settings, BASE, SecretStr("r8_x"))

        def throttled(seconds: float) -> ImageGenError:
            return ImageGenError("x", kind=ErrorKind.RATE_LIMIT, status=429, retry_after=seconds)

        told = _waits(transport, throttled(3.0), 1)
        # "Retry now" still waits the jittered backoff rather than hammering.
        now = _waits(transport, throttled(0.0), 1)
        # A Retry-After shorter than the backoff already reached does not shorten it.
        short = _waits(transport, throttled(1.0), 3)
    assert all(3.0 <= wait <= 3.3 for wait in told)
    assert len(set(told)) > 1
    assert all(0.5 <= wait <= 1.0 for wait in now)
    assert len(set(now)) > 1
    assert all(wait >= 2.0 for wait in short)
