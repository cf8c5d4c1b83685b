"""The wire between the decode pool and a decode worker: length-prefixed messages on pipes.

A message is two big-endian 32-bit lengths, a JSON header of the first
length and a body of the second. Requests carry the encoded file as their
body; replies carry none, because the pixels travel through shared memory.
The format is this small on purpose: both ends are this package at the same
version (the worker is started from the same interpreter), so there is
nothing to negotiate, and JSON keeps a reply's error message readable in a
debugger.

Reads take a deadline (the pool's decode time limit) and use ``select``, which
waits on pipes only on POSIX systems; the pool does not start workers
elsewhere.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["WorkerGone", "WorkerTimedOut", "receive", "send"]

_LENGTHS = struct.Struct(">II")


class WorkerGone(Exception):
    """The other end closed its pipe: the process exited or was killed."""


class WorkerTimedOut(Exception):
    """No complete reply before the deadline."""


def send(fd: int, header: Mapping[str, Any], body: bytes = b"") -> None:
    """Write one message to ``fd`` (blocking; the GIL is released while the pipe is full).

    Raises:
        WorkerGone: The reading end is closed.
    """
    encoded = json.dumps(header).encode()
    _write_all(fd, _LENGTHS.pack(len(encoded), len(body)) + encoded)
    if body:
        _write_all(fd, body)


def receive(fd: int, deadline: float | None = None) -> tuple[dict[str, Any], bytes]:
    """Read one message from ``fd``: its header and its body.

    Args:
        fd: The pipe to read.
        deadline: A :func:`time.monotonic` instant by which the whole message
            must have arrived, or None to wait for ever.

    Raises:
        WorkerGone: The writing end closed before a whole message arrived.
        WorkerTimedOut: ``deadline`` passed first.
    """
    header_length, body_length = _LENGTHS.unpack(_read_exactly(fd, _LENGTHS.size, deadline))
    header = json.loads(_read_exactly(fd, header_length, deadline))
    body = _read_exactly(fd, body_length, deadline) if body_length else b""
    if not isinstance(header, dict):
        raise WorkerGone(f"the other end sent a {type(header).__name__} header, not an object")
    return header, body


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise WorkerGone(str(exc)) from None


def _read_exactly(fd: int, length: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    remaining = length
    while remaining:
        if deadline is not None:
            timeout = deadline - time.monotonic()
            if timeout <= 0 or not select.select([fd], [], [], timeout)[0]:
                raise WorkerTimedOut()
        chunk = os.read(fd, remaining)
        if not chunk:
            raise WorkerGone("end of file")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
