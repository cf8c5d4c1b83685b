"""Reading a ``text/event-stream`` body into events, with a cap on each event.

Written here rather than taken from a library: the maintained SSE clients
either wrap a different HTTP client (``httpx-sse``) or own the connection
themselves (``aiohttp-sse-client``), while the backend must read a response
it already holds from the caller's aiohttp session. The format is small
(WHATWG HTML, "Server-sent events", section 9.2.6): lines of ``field: value``,
events separated by a blank line, ``data`` lines joined with newlines,
comments starting with ``:``.

Lines are split from raw chunks instead of with ``StreamReader.readline``:
one event carries a whole base64 image, far past aiohttp's line limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

__all__ = ["EventTooLarge", "ServerSentEvent", "iter_events"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its ``event`` name (default ``message``) and joined ``data``."""

    event: str
    data: str


class EventTooLarge(ValueError):
    """An event (or a line without end) grew past the cap."""


async def iter_events(
    chunks: AsyncIterable[bytes], *, max_event_bytes: int
) -> AsyncIterator[ServerSentEvent]:
    """Yield each event of the stream as it completes.

    An event still open when the stream ends is dropped, as the standard says
    (a connection cut mid-event delivers nothing half-read).

    Raises:
        EventTooLarge: An event exceeded ``max_event_bytes``.
    """
    pending = bytearray()
    event_name = ""
    data_lines: list[str] = []
    size = 0
    async for chunk in chunks:
        pending.extend(chunk)
        if len(pending) > max_event_bytes:
            raise EventTooLarge(f"a stream event is larger than {max_event_bytes:,} bytes")
        while True:
            line, found = _take_line(pending)
            if not found:
                break
            if not line:
                if data_lines:
                    yield ServerSentEvent(event_name or "message", "\n".join(data_lines))
                event_name, data_lines, size = "", [], 0
                continue
            size += len(line)
            if size > max_event_bytes:
                raise EventTooLarge(f"a stream event is larger than {max_event_bytes:,} bytes")
            field, value = _field(line.decode("utf-8", "replace"))
            if field == "event":
                event_name = value
            elif field == "data":
                data_lines.append(value)


def _take_line(buffer: bytearray) -> tuple[bytes, bool]:
    """Remove and return the first complete line (CRLF, LF or CR ended)."""
    lf, cr = buffer.find(b"\n"), buffer.find(b"\r")
    ends = [i for i in (lf, cr) if i >= 0]
    if not ends:
        return b"", False
    index = min(ends)
    if index == cr:
        if index + 1 == len(buffer):
            return b"", False  # a CR at the end may be half of a CRLF
        end = index + 2 if buffer[index + 1] == 0x0A else index + 1
    else:
        end = index + 1
    line = bytes(buffer[:index])
    del buffer[:end]
    return line, True


def _field(line: str) -> tuple[str, str]:
    if line.startswith(":"):
        return "", ""
    name, sep, value = line.partition(":")
    if sep and value.startswith(" "):
        value = value[1:]
    return name, value
