"""Capturing loguru output, which pytest's ``caplog`` does not see.

Pipecat logs through loguru, and so may backends; a secret written there leaks
just as surely as one written to the standard library's logging, so the
secrets test reads both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["loguru_messages"]

_FORMAT = "{level} {name}:{function} {message} {extra}\n{exception}"


@contextmanager
def loguru_messages() -> Iterator[list[str]]:
    """Collect every loguru message (all levels, with exceptions) logged while inside.

    Yields an empty list that stays empty when loguru is not installed.
    """
    try:
        from loguru import logger
    except ImportError:
        yield []
        return
    lines: list[str] = []
    sink = logger.add(
        lambda message: lines.append(str(message)),
        level=0,
        format=_FORMAT,
        colorize=False,
        backtrace=False,
        diagnose=False,
        catch=False,
    )
    try:
        yield lines
    finally:
        logger.remove(sink)
