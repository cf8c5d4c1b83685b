"""A decode worker process: ``python -m imagegen_core._decode_worker``.

The decode pool (:mod:`imagegen_core._decode_pool`) starts this module with
``subprocess``, not with ``multiprocessing``: spawn and forkserver children
re-import the app's ``__main__``, which would run an unguarded bot script a
second time. It reads decode requests on standard input
(:mod:`imagegen_core._decode_protocol`), decodes each with the very same
:func:`~imagegen_core._decoding.decode_image` the thread path uses (same
pixel cap, modes, background and error kinds), writes the pixels into the
shared-memory segment the request names (the pool creates and owns it) and
replies on standard output with the size, or with the error.

It runs at a lower CPU priority, so that on a contended core the app's
event loop wins over its own decodes; it ignores SIGINT (Ctrl-C in a
terminal reaches the whole process group) and exits when its standard input
closes, which is how the pool stops it, and what happens when the app dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from typing import Any

from imagegen_core._decode_protocol import WorkerGone, receive, send
from imagegen_core._decoding import decode_image
from imagegen_core._errors import ImageGenError

__all__ = ["NICENESS", "main"]

NICENESS = 2
"""How much lower the worker's CPU priority is than the app's (``os.nice``):
on a core both want, the scheduler prefers the app's process, whose event
loop must wake every few milliseconds. Small, because each step of niceness
also cuts the worker's share against the machine's other processes (about
ten per cent of a contended core per step, as Linux weighs niceness), which
is decode throughput a loaded server would lose."""


def main() -> None:
    """Serve decode requests until standard input closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # a sandbox refusing it: decoding still works
            os.nice(NICENESS)
    requests, replies = _protect_protocol_pipe()
    send(replies, {"ready": os.getpid()})
    segment: SharedMemory | None = None
    try:
        while True:
            try:
                header, data = receive(requests)
            except WorkerGone:
                return
            if segment is None or segment.name != header["segment"]:
                if segment is not None:
                    segment.close()
                segment = _attach(header["segment"])
            send(replies, _decode_into(segment, header, data))
    finally:
        if segment is not None:
            segment.close()


def _protect_protocol_pipe() -> tuple[int, int]:
    """The request and reply descriptors, with stray ``print``s sent to standard error.

    A library printing to standard output would otherwise corrupt the replies.
    """
    replies = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return sys.stdin.fileno(), replies


def _decode_into(segment: SharedMemory, header: dict[str, Any], data: bytes) -> dict[str, Any]:
    try:
        decoded = decode_image(
            data,
            mode=header["mode"],
            max_pixels=header["max_pixels"],
            background=tuple(header["background"]),
        )
    except ImageGenError as error:
        return {
            "error": {
                "message": error.message,
                "kind": error.kind.value,
                "retryable": error.retryable,
            }
        }
    except Exception as exc:  # a bug, not the image: say what it was
        return {
            "error": {
                "message": f"the decode worker failed ({type(exc).__name__}: {exc})",
                "kind": "unknown",
                "retryable": False,
            }
        }
    length = len(decoded.pixels)
    if length > segment.size:
        return {"need": length}
    buffer = segment.buf
    assert buffer is not None  # None only once closed
    buffer[:length] = decoded.pixels
    return {
        "length": length,
        "width": decoded.size.width,
        "height": decoded.size.height,
        "mode": decoded.mode,
        "source_format": decoded.source_format,
    }


def _attach(name: str) -> SharedMemory:
    """Map the pool's segment without making this process its owner.

    Python 3.11 and 3.12 register every attachment with a resource tracker,
    which unlinks the segment (and warns of a leak) when this worker exits,
    taking it from the pool that still uses it (python/cpython#82300); 3.13
    has ``track=False`` for this. The worker is single-threaded, so swapping
    the registration out for the attach is safe.
    """
    if sys.version_info >= (3, 13):
        return SharedMemory(name, track=False)
    register = resource_tracker.register
    resource_tracker.register = lambda name, rtype: None
    try:
        return SharedMemory(name)
    finally:
        resource_tracker.register = register


if __name__ == "__main__":
    main()
