"""Two HTTP chores every backend meets: honouring ``Retry-After`` and capping bodies.

Both the core's image downloads and the Replicate backend's API client need
them, and a third-party backend will too; one implementation keeps their
behaviour identical (an HTTP-date ``Retry-After`` is honoured everywhere, a
body is refused at the same point everywhere).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable

import aiohttp

__all__ = ["BODY_CHUNK_BYTES", "read_capped", "retry_after_seconds"]

BODY_CHUNK_BYTES = 64 * 1024
"""Bytes read per step while enforcing a cap."""


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value (RFC 9110).

    The value is either seconds or an HTTP date; a date in the past means
    "now" (0). Anything unreadable, negative or infinite gives None, so the
    caller's own back-off applies.

    Args:
        value: The header's value, or None when there was no header.
        now: The current POSIX time, for tests; defaults to the clock.
    """
    if value is None:
        return None
    raw = value.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


async def read_capped(
    response: aiohttp.ClientResponse,
    max_bytes: int,
    too_large: Callable[[str], Exception],
) -> bytes:
    """Read a response body, refusing it once it is known to exceed ``max_bytes``.

    A ``Content-Length`` over the cap is refused before reading anything.
    A body that announced a length within the cap (the common case: an API
    reply, an image file) is read with ``response.content.read(n)`` until
    that many bytes are in, without a last read to see the end: aiohttp's
    parser delivers no byte past the announced length, so a server whose
    body runs on past its header cannot get more into memory. Otherwise
    (no length, or a compressed body, whose inflated size the header does not
    give) it is read in chunks and refused as soon as it passes the cap, so a
    runaway or hostile response cannot exhaust memory.

    Args:
        response: The response whose body to read.
        max_bytes: The most bytes accepted.
        too_large: Builds the exception to raise, given how the excess showed
            (``"12,345 bytes announced"`` or ``"the body kept going"``).
    """
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise too_large(f"{declared:,} bytes announced")
    if declared is not None and "Content-Encoding" not in response.headers:
        # Reads of whatever has arrived, not 64 KiB chunks copied into a
        # bytearray: half the event-loop time for the same bytes
        # (benchmarks/suite.py). Stopping at the announced length saves the
        # read that would only report the end.
        return await _read_at_most(response, declared)
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(BODY_CHUNK_BYTES):
        parts.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise too_large("the body kept going")
    return b"".join(parts)


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read until the body ends or ``limit`` bytes are in, whichever comes first."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        # read(n) returns what is buffered (up to n) as soon as there is any,
        # without copying through a bytearray; b"" at the end of the body.
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)
