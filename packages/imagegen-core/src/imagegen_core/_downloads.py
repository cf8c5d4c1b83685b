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

import asyncio
import functools
import ipaddress
import socket
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import aiohttp
import aiohttp.abc
import yarl
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from imagegen_core._addresses import AddressPolicy
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._http_limits import read_capped, retry_after_seconds
from imagegen_core._redaction import redact
from imagegen_core._retries import call_with_retries

__all__ = [
    "DEFAULT_DOWNLOAD_ATTEMPTS",
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "MAX_REDIRECTS",
    "Download",
    "describe_url",
    "download",
    "guarded_connector",
    "refuse_oversized_inline",
]

DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
"""Largest image file fetched, in bytes (50 MiB): ten times a large PNG from
today's generators, small enough that a runaway response cannot exhaust memory."""

DEFAULT_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=15, sock_read=30)
"""Time limits of one fetch attempt: two minutes in all, 15 s to connect, and
30 s of silence while reading."""

DEFAULT_DOWNLOAD_ATTEMPTS = 3
"""Tries per image before a transient failure is reported."""

MAX_REDIRECTS = 10
"""Redirects followed per fetch; more is reported as a redirect loop."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})

_LOOKUP_TIMEOUT = 5.0
"""Seconds the check of a caller's session waits for DNS before leaving the name to it."""

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
    addresses: AddressPolicy | None = None,
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
        addresses: Where the URL and every redirect may lead. By default
            (None) private, loopback and link-local addresses are refused, be
            they named in the URL or what its host resolves to; the check is
            made on the address connected to, on every hop.

    Raises:
        ImageGenError: ``invalid_request`` when the body is over ``max_bytes``;
            ``server``, not retried, when the link cannot or may not be
            fetched (not http(s), a redirect to another scheme or in a loop,
            a refused address); ``connectivity``, ``timeout``, ``rate_limit``
            or ``server`` when the fetch failed, after the retries.
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
        partial(
            _fetch_once,
            session,
            url,
            max_bytes=max_bytes,
            client_timeout=client_timeout,
            addresses=AddressPolicy() if addresses is None else addresses,
        ),
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
    addresses: AddressPolicy,
) -> Download:
    """One attempt: follow up to :data:`MAX_REDIRECTS` redirects, each hop checked.

    URLs are described for messages (:func:`describe_url`) only when a
    message is made: on the common path nothing needs one, and describing
    parses each URL once more.
    """
    current = url
    for hop in range(MAX_REDIRECTS + 1):
        target = _checked_target(current, url if hop else None)
        try:
            await _check_host(session, target, addresses, current)
            async with session.get(
                target, timeout=client_timeout, allow_redirects=False
            ) as response:
                if response.status in _REDIRECTS:
                    current = _next_hop(target, response.headers.get("Location"), current)
                    continue
                if response.status >= 400:
                    raise _status_error(response.status, response.headers, describe_url(current))
                body = await read_capped(
                    response, max_bytes, functools.partial(_too_large_at, current, max_bytes)
                )
                media_type = response.content_type if "Content-Type" in response.headers else None
                return Download(body, media_type)
        except ImageGenError:
            raise
        except TimeoutError:
            where = describe_url(current)
            failure = ImageGenError(f"downloading {where} timed out", kind=ErrorKind.TIMEOUT)
        except aiohttp.ClientResponseError as exc:
            # Only reached with a session made with raise_for_status=True.
            failure = _status_error(exc.status, exc.headers, describe_url(current))
        except aiohttp.InvalidURL as exc:
            where = describe_url(current)
            failure = _unusable_link(f"downloading {where} failed: {type(exc).__name__}")
        except (aiohttp.ClientError, OSError) as exc:
            where = describe_url(current)
            refused = getattr(exc, "os_error", None)
            if isinstance(refused, _RefusedAddress):
                failure = _refused(where, str(refused))
            else:
                detail = redact(str(exc).replace(current, where))
                message = f"downloading {where} failed: {type(exc).__name__}"
                failure = ImageGenError(
                    f"{message}: {detail}" if detail else message, kind=ErrorKind.CONNECTIVITY
                )
        # Raised outside the handlers: the library's exception may quote the
        # full URL (its signed query string) and must not ride along as context.
        raise failure
    raise _unusable_link(
        f"downloading {describe_url(url)} failed: a redirect loop "
        f"(more than {MAX_REDIRECTS} redirects)"
    )


def _checked_target(url: str, redirected_from: str | None) -> yarl.URL:
    """The URL as yarl reads it, refused unless it is a well-formed http(s) URL.

    Read as encoded: a signed query string must reach the server byte for byte.
    ``redirected_from`` is the URL first asked for, when ``url`` is where it
    redirected; it is described only for the message of a refusal.
    """
    scheme = urlsplit(url).scheme.lower() if url else ""
    if scheme not in ("http", "https"):
        # Only the scheme is named: the rest of an untrusted value could be anything.
        readable = scheme.isalnum() and len(scheme) <= 16
        named = f"a {scheme!r} URL" if readable else "no http(s) URL"
        what = (
            f"downloading {describe_url(redirected_from)} failed: it redirected to {named}"
            if redirected_from is not None
            else f"cannot download the image: its link is {named}"
        )
        raise _unusable_link(f"{what}; only http and https URLs are fetched")
    try:
        target: yarl.URL | None = yarl.URL(url, encoded=True)
    except ValueError:
        target = None
    if target is None or not target.raw_host:
        raise _unusable_link("cannot download <malformed URL>: it names no host")
    return target


def _next_hop(target: yarl.URL, location: str | None, current: str) -> str:
    if not location:
        raise _unusable_link(
            f"downloading {describe_url(current)} failed: a redirect without a Location"
        )
    try:
        return str(target.join(yarl.URL(location, encoded=True)))
    except ValueError:
        raise _unusable_link(
            f"downloading {describe_url(current)} failed: a redirect to a malformed URL"
        ) from None


async def _check_host(
    session: aiohttp.ClientSession, target: yarl.URL, addresses: AddressPolicy, current: str
) -> None:
    """Refuse a URL whose host is, or resolves to, a refused address, before connecting.

    A host that is an address is judged as it is. A DNS name is judged at
    connect time by a session built on :func:`guarded_connector` (the core's
    own sessions are), on the very addresses connected to, so a name that
    resolves differently a moment later (DNS rebinding) cannot slip through.
    On another session (the caller's) the name is resolved and judged here,
    just before the request: that stops a name that leads into the network,
    though not one that changes its answer between this lookup and aiohttp's.
    A name that does not resolve here is left to the session (it fails there,
    or a test double such as vcrpy answers for it).
    """
    host = target.raw_host or ""
    if addresses.trusts(host):
        return
    if _is_address(host):
        _refuse_if_private(addresses, host, host.strip("[]"), current)
        return
    if isinstance(session.connector, aiohttp.TCPConnector) and _guarded(session.connector):
        return
    try:
        async with asyncio.timeout(_LOOKUP_TIMEOUT):
            found = await asyncio.get_running_loop().getaddrinfo(
                host, target.port, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError):
        return
    for info in found:
        _refuse_if_private(addresses, host, str(info[4][0]), current)


def _guarded(connector: aiohttp.TCPConnector) -> bool:
    return connector in _GUARDED_CONNECTORS


def guarded_connector(addresses: AddressPolicy | None = None) -> aiohttp.TCPConnector:
    """A connector whose DNS lookups refuse names that resolve to refused addresses.

    Build the session links are fetched with on it
    (``aiohttp.ClientSession(connector=guarded_connector(policy))``) and a
    name leading to a private, loopback or link-local address is refused
    before any connection is made to it; :func:`download` checks the
    connected address in any case, but only once the request is sent.
    """
    connector = aiohttp.TCPConnector(resolver=_GuardedResolver(addresses or AddressPolicy()))
    _GUARDED_CONNECTORS.add(connector)
    return connector


_GUARDED_CONNECTORS: weakref.WeakSet[aiohttp.TCPConnector] = weakref.WeakSet()
"""Connectors made by :func:`guarded_connector`, whose lookups already judge each name."""


class _RefusedAddress(OSError):
    """Raised by :class:`_GuardedResolver`; aiohttp passes it on as ``os_error``."""


class _GuardedResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's default resolver, refusing a name if any of its addresses is refused."""

    def __init__(self, addresses: AddressPolicy) -> None:
        self._addresses = addresses
        self._inner = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            reason = self._addresses.refusal(host, result["host"])
            if reason is not None:
                raise _RefusedAddress(f"its host is {reason}")
        return found

    async def close(self) -> None:
        await self._inner.close()


def _refuse_if_private(addresses: AddressPolicy, host: str, address: str, url: str) -> None:
    reason = addresses.refusal(host, address)
    if reason is not None:
        raise _refused(describe_url(url), f"its host is {reason}")


def _refused(where: str, why: str) -> ImageGenError:
    return _unusable_link(
        f"refused to download {where}: {why}, which links a provider returns may not reach "
        "(allow_private_urls allows it)"
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _unusable_link(message: str) -> ImageGenError:
    """A link that cannot or may not be fetched: the provider's reply was unusable.

    Not a connectivity problem, so not retried; the kind is ``server`` (the
    provider's side is at fault) and the Pipecat service reports a failed
    output as a failure of that prompt, not an outage (see its ``_render``).
    """
    return ImageGenError(message, kind=ErrorKind.SERVER, retryable=False)


def refuse_oversized_inline(data: bytes, max_bytes: int, index: int) -> None:
    """Apply the download byte cap to an image a provider sent inline (a ``data:`` URL, base64).

    An inline image is as untrusted as a linked one; without this, sending
    the file inline would be the way around :func:`download`'s cap.

    Raises:
        ImageGenError: ``invalid_request`` when ``data`` is over ``max_bytes``.
    """
    if len(data) > max_bytes:
        raise _too_large(f"image {index} (sent inline)", max_bytes, f"{len(data):,} bytes")


def _too_large_at(url: str, max_bytes: int, how: str) -> ImageGenError:
    return _too_large(describe_url(url), max_bytes, how)


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
