"""HTTP to the Images API, with retries that cannot bill an image twice.

Which failures are retried, and why:

* **429 ``rate_limit_exceeded``**: OpenAI throttles before doing any work, so
  the request had no effect. The wait is what the reply asks for
  (``retry-after-ms``, ``Retry-After``, the reset of the exhausted limit) plus
  up to 10% jitter, or the backoff if it asks for nothing; a wait longer than
  ``max_retry_wait`` is not slept through, it is raised at once with its
  ``retry_after`` so the caller (a failover, say) decides.
* **A connection that could not be opened** (refused, DNS): no byte of the
  request left this machine.

Nothing else is retried. ``POST /images/generations`` and ``/images/edits``
create billed images, and OpenAI documents no idempotency key for them (its
API reference lists none; ``X-Client-Request-Id`` only labels a request for
support). A ``5xx``, a time-out or a connection that broke after the body was
sent may have generated (and billed) the images whose reply was lost, so such
a failure is raised at once as ``retryable=False``, saying so. The official
SDK does retry these (twice by default: "Connection errors, 408, 409, 429,
and >=500 Internal errors are all retried by default", its README says),
which is one reason this backend does not use it (see the package README).
``insufficient_quota`` is a 429 too, and is never retried: waiting does not
add credit.

The key is kept out of every place an error can show it: the header is
built inside the call that sends it, so no frame local holds it in the clear,
and aiohttp's own exceptions (whose frames hold the request headers) are not
chained to the errors raised here.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import aiohttp
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from imagegen_core import ErrorKind, ImageGenError
from imagegen_core.http import call_with_retries, read_capped
from imagegen_openai._problems import error_for_api_error, error_for_status
from imagegen_openai._settings import OpenAISettings
from imagegen_openai._sse import EventTooLarge, iter_events
from imagegen_openai._wire import (
    ImagesReply,
    StreamEvent,
    parse_reply,
    parse_stream_event,
)

__all__ = ["OpenAITransport", "RequestBody", "user_agent"]

_DOUBLE_BILL_NOTE = (
    "; the images may have been generated and billed, so the request was not repeated "
    "(OpenAI offers no idempotency key that would make a repeat safe)"
)


def user_agent() -> str:
    """The ``User-Agent`` this backend sends."""
    from imagegen_openai import __version__

    return f"imagegen-openai/{__version__}"


class RequestBody:
    """An encoded request body and its content type (JSON, or multipart for edits)."""

    def __init__(self, data: bytes, content_type: str) -> None:
        self.data = data
        self.content_type = content_type

    @classmethod
    def json(cls, fields: Mapping[str, Any]) -> RequestBody:
        """A JSON body."""
        return cls(json.dumps(dict(fields)).encode("utf-8"), "application/json")

    def __repr__(self) -> str:
        return f"RequestBody(<{len(self.data)} bytes>, {self.content_type!r})"


class OpenAITransport:
    """One generation's HTTP conversation with the Images API.

    Built per generation from a snapshot of the settings and the resolved key,
    so a settings update mid-generation cannot change a request in flight.

    Args:
        session: The aiohttp session to send with (not closed here).
        settings: The settings snapshot.
        base_url: The resolved API base URL.
        key: The API key (or Azure Entra token, with ``auth="bearer"``).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: OpenAISettings,
        base_url: str,
        key: SecretStr,
    ) -> None:
        self._session = session
        self._settings = settings
        self._base_url = base_url
        self._key = key
        self._backoff = wait_exponential(multiplier=settings.retry_initial_backoff, max=8.0)
        self.request_id: str | None = None
        """``x-request-id`` of the last reply, for support requests and metadata."""

    def __repr__(self) -> str:
        return f"OpenAITransport(base_url={self._base_url!r})"

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session requests go through (for fetching URL outputs too)."""
        return self._session

    def url(self, path: str) -> str:
        """The full URL of ``path`` (with Azure's ``api-version`` when set)."""
        url = f"{self._base_url}/{path}"
        if self._settings.api_version is not None:
            url += f"?api-version={self._settings.api_version}"
        return url

    async def post(self, path: str, body: RequestBody, *, action: str) -> ImagesReply:
        """Send a non-streamed request; the validated JSON reply."""
        response = await self._open(path, body, accept="application/json", action=action)
        try:
            raw = await self._read(response, action)
        finally:
            response.close()
        return parse_reply(_json(raw, response.status, action))

    async def stream(
        self, path: str, body: RequestBody, *, action: str
    ) -> AsyncGenerator[StreamEvent | ImagesReply, None]:
        """Send a streamed request; yield each event as it arrives.

        A server that answers a stream request with a plain JSON reply (some
        OpenAI-compatible ones ignore ``stream``) yields that reply instead.
        Leaving the iteration early (cancellation, an error in the consumer)
        closes the connection at once: OpenAI has no endpoint to cancel an
        image generation, so closing is all a client can do.
        """
        response = await self._open(path, body, accept="text/event-stream", action=action)
        try:
            if response.content_type != "text/event-stream":
                raw = await self._read(response, action)
                yield parse_reply(_json(raw, response.status, action))
                return
            events = iter_events(
                response.content.iter_any(), max_event_bytes=self._settings.max_reply_bytes
            )
            try:
                async for message in events:
                    event = parse_stream_event(
                        _json(message.data.encode(), response.status, action)
                    )
                    if event.type == "error":
                        raise error_for_api_error(event.error, status=None, action=action)
                    yield event
            except EventTooLarge as exc:
                raise ImageGenError(
                    f"{exc} while {action}",
                    kind=ErrorKind.SERVER,
                    retryable=False,
                    backend="openai",
                ) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = self._transport_error(exc, action, sent=True)
            else:
                return
            raise failure
        finally:
            response.close()

    # -- machinery ----------------------------------------------------------------

    async def _open(
        self, path: str, body: RequestBody, *, accept: str, action: str
    ) -> aiohttp.ClientResponse:
        """Send the request (retrying only what is safe) and return the response head."""
        settings = self._settings
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
        )
        url = self.url(path)

        async def once() -> aiohttp.ClientResponse:
            # The headers are built in the call rather than kept in a
            # variable: this frame is in every error's traceback.
            response = await self._session.post(
                url,
                data=body.data,
                headers=self._headers(body.content_type, accept),
                timeout=timeout,
            )
            self.request_id = response.headers.get("x-request-id")
            if response.status >= 400:
                try:
                    raw = await self._read(response, action)
                finally:
                    response.close()
                raise self._status_error(response, raw, action)
            return response

        try:
            return await call_with_retries(
                once, should_retry=self._should_retry, retrying=self._retrying
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = self._transport_error(exc, action, sent=not _not_sent(exc))
        # Raised outside the handler so aiohttp's exception is not its context.
        raise failure

    def _headers(self, content_type: str, accept: str) -> dict[str, str]:
        settings = self._settings
        secret = self._key.get_secret_value()
        headers = {
            "Content-Type": content_type,
            "Accept": accept,
            "User-Agent": user_agent(),
        }
        if settings.auth == "api-key":
            headers["api-key"] = secret
        else:
            headers["Authorization"] = f"Bearer {secret}"
        if settings.organization is not None:
            headers["OpenAI-Organization"] = settings.organization
        if settings.project is not None:
            headers["OpenAI-Project"] = settings.project
        return headers

    async def _read(self, response: aiohttp.ClientResponse, action: str) -> bytes:
        limit = self._settings.max_reply_bytes

        def too_large(how: str) -> ImageGenError:
            return ImageGenError(
                f"OpenAI's reply while {action} is larger than the {limit:,}-byte limit ({how})",
                kind=ErrorKind.SERVER,
                retryable=False,
                backend="openai",
            )

        try:
            return await read_capped(response, limit, too_large)
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = self._transport_error(exc, action, sent=True)
        raise failure

    def _status_error(
        self, response: aiohttp.ClientResponse, raw: bytes, action: str
    ) -> ImageGenError:
        error = error_for_status(
            response.status, response.headers, raw.decode("utf-8", "replace"), action=action
        )
        if error.kind is not ErrorKind.RATE_LIMIT and error.retryable:
            # A 5xx or 408 after the body was sent: the work may have happened.
            error = error.copy_with(message=error.message + _DOUBLE_BILL_NOTE, retryable=False)
        return error

    def _retrying(self, _spent: float) -> AsyncRetrying:
        """The retry policy, once a first attempt has failed (bounded in attempts only)."""
        return AsyncRetrying(
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            reraise=True,
        )

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, ImageGenError):
            if exc.kind is not ErrorKind.RATE_LIMIT:
                return False
            return exc.retry_after is None or exc.retry_after <= self._settings.max_retry_wait
        return _not_sent(exc)

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            return max(backoff, float(retry_after) * (1 + random.uniform(0, 0.1)))  # noqa: S311 - jitter
        return backoff

    def _transport_error(self, exc: BaseException, action: str, *, sent: bool) -> ImageGenError:
        if isinstance(exc, TimeoutError):
            error = ImageGenError(
                f"no reply from OpenAI in time while {action}",
                kind=ErrorKind.TIMEOUT,
                backend="openai",
            )
        else:
            detail = str(exc).strip()
            error = ImageGenError(
                f"could not reach OpenAI while {action}: {type(exc).__name__}"
                + (f": {detail}" if detail else ""),
                kind=ErrorKind.CONNECTIVITY,
                backend="openai",
            )
        if sent:
            error = error.copy_with(message=error.message + _DOUBLE_BILL_NOTE, retryable=False)
        return error


def _not_sent(exc: BaseException) -> bool:
    """Whether the failure happened before any byte of the request was sent."""
    return isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(
        exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError
    )


def _json(raw: bytes, status: int, action: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        pass
    raise ImageGenError(
        f"OpenAI answered {status} while {action} with something other than JSON",
        kind=ErrorKind.SERVER,
        retryable=False,
        backend="openai",
        status=status,
    )
