"""Fetching image outputs that a backend returned as links.

Many providers answer with a URL to the finished file rather than the file
itself (Replicate serves outputs from ``replicate.delivery``). Fetching it is
the consumer's job, and it is done defensively: the body is capped in bytes
(checked against ``Content-Length`` first, then while streaming, so a lying or
missing header cannot get past it, nor can a gzip bomb since aiohttp inflates
before we count), every phase has a timeout, and transient failures are
retried a few times with tenacity (brought in only after a first failure:
:func:`~imagegen_core.http.call_with_retries`), because by now the image has
been paid for and losing it to one dropped connection would be a waste.

Signed URLs carry credentials in their query string, so messages only ever
name a URL by scheme, host and path (:func:`describe_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._http_limits import read_capped, retry_after_seconds
from imagegen_core._redaction import redact
from imagegen_core._retries import call_with_retries

__all__ = [
    "DEFAULT_DOWNLOAD_ATTEMPTS",
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "Download",
    "describe_url",
    "download",
]

DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
"""Largest image file fetched, in bytes (50 MiB): ten times a large PNG from
today's generators, small enough that a runaway response cannot exhaust memory."""

DEFAULT_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=15, sock_read=30)
"""Time limits of one fetch attempt: two minutes in all, 15 s to connect, and
30 s of silence while reading."""

DEFAULT_DOWNLOAD_ATTEMPTS = 3
"""Tries per image before a transient failure is reported."""

_MAX_RETRY_AFTER = 5.0


@dataclass(frozen=True, slots=True)
class Download:
    """A fetched file.

    Args:
        data: The body, exactly as served (after content decoding).
        media_type: The ``Content-Type`` without parameters, when the server sent one.
    """

    data: bytes
    media_type: str | None = None

    def __repr__(self) -> str:
        return f"Download(<{len(self.data)} bytes>, media_type={self.media_type!r})"


def describe_url(url: str) -> str:
    """Name a URL for messages without its query, fragment or user info.

    Signed download links (S3, GCS, many CDNs) carry their signature in the
    query string; that must not reach logs or error frames.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    if not parts.scheme or not parts.hostname:
        return "<malformed URL>"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


async def download(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    client_timeout: aiohttp.ClientTimeout = DEFAULT_DOWNLOAD_TIMEOUT,
    attempts: int = DEFAULT_DOWNLOAD_ATTEMPTS,
    backoff: float = 0.25,
) -> Download:
    """Fetch ``url`` with ``session``, within a byte cap, retrying transient failures.

    Args:
        session: The HTTP session to use (the caller owns it).
        url: An ``http`` or ``https`` URL.
        max_bytes: Refuse bodies longer than this.
        client_timeout: Time limits of each attempt.
        attempts: Tries in all; only retryable failures (connection errors,
            time-outs, 429 and 5xx answers) are tried again.
        backoff: Seconds before the first retry; doubled for each further one.
            A ``Retry-After`` answer is honoured up to five seconds.

    Raises:
        ImageGenError: ``invalid_request`` when the body is over ``max_bytes``;
            ``connectivity``, ``timeout``, ``rate_limit`` or ``server`` when
            the fetch failed, after the retries.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def retrying(_spent: float) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=_Backoff(backoff),
            retry=retry_if_exception(_is_retryable),
            reraise=True,
        )

    return await call_with_retries(
        partial(_fetch_once, session, url, max_bytes=max_bytes, client_timeout=client_timeout),
        should_retry=lambda exc: attempts > 1 and _is_retryable(exc),
        retrying=retrying,
    )


class _Backoff:
    """Exponential back-off that honours a provider's ``Retry-After``."""

    def __init__(self, first: float) -> None:
        self._first = max(0.0, first)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, ImageGenError) and error.retry_after is not None:
            return min(max(0.0, error.retry_after), _MAX_RETRY_AFTER)
        return float(self._first * 2 ** (state.attempt_number - 1))


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, ImageGenError) and error.retryable


async def _fetch_once(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    client_timeout: aiohttp.ClientTimeout,
) -> Download:
    where = describe_url(url)
    if urlsplit(url).scheme not in ("http", "https") or where == "<malformed URL>":
        raise ImageGenError(
            f"cannot download {where}: only http and https URLs are fetched",
            kind=ErrorKind.SERVER,
            retryable=False,
        )
    try:
        async with session.get(url, timeout=client_timeout) as response:
            if response.status >= 400:
                raise _status_error(response.status, response.headers, where)
            body = await read_capped(
                response, max_bytes, lambda how: _too_large(where, max_bytes, how)
            )
            media_type = response.content_type if "Content-Type" in response.headers else None
            return Download(body, media_type)
    except ImageGenError:
        raise
    except TimeoutError:
        raise ImageGenError(f"downloading {where} timed out", kind=ErrorKind.TIMEOUT) from None
    except aiohttp.ClientResponseError as exc:
        # Only reached with a session made with raise_for_status=True.
        raise _status_error(exc.status, exc.headers, where) from None
    except (aiohttp.InvalidURL, aiohttp.TooManyRedirects) as exc:
        raise ImageGenError(
            f"downloading {where} failed: {type(exc).__name__}",
            kind=ErrorKind.SERVER,
            retryable=False,
        ) from None
    except aiohttp.ClientError as exc:
        detail = redact(str(exc).replace(url, where))
        message = f"downloading {where} failed: {type(exc).__name__}"
        raise ImageGenError(
            f"{message}: {detail}" if detail else message, kind=ErrorKind.CONNECTIVITY
        ) from None


def _too_large(where: str, max_bytes: int, how: str) -> ImageGenError:
    return ImageGenError(
        f"{where} is larger than the download limit of {max_bytes:,} bytes "
        f"(max_download_bytes; {how})",
        kind=ErrorKind.INVALID_REQUEST,
        retryable=False,
    )


def _status_error(status: int, headers: Mapping[str, str] | None, where: str) -> ImageGenError:
    message = f"downloading {where} failed with HTTP {status}"
    if status == 429:
        return ImageGenError(
            message,
            kind=ErrorKind.RATE_LIMIT,
            retry_after=_retry_after(headers),
            status=status,
        )
    if status >= 500:
        return ImageGenError(
            message, kind=ErrorKind.SERVER, retry_after=_retry_after(headers), status=status
        )
    # A link the provider handed out that now answers 403/404/410 has expired
    # or was never valid: the provider's fault, and asking again will not help.
    return ImageGenError(message, kind=ErrorKind.SERVER, retryable=False, status=status)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    return retry_after_seconds(headers.get("Retry-After") if headers is not None else None)
