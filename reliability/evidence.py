"""Everything a run leaves where a secret could hide, kept for the secrets section to search.

The other sections hand over what they see (error frames, exceptions, the
services they built, folders they wrote into) with :func:`keep`,
:func:`keep_repr` and :func:`keep_files`; that costs nothing unless a
:class:`Collection` is open (:func:`collecting`), which also captures every
log record, Pipecat's (loguru) and imagegen's (``logging``), at the most
verbose level.
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

__all__ = [
    "Collection",
    "collecting",
    "keep",
    "keep_files",
    "keep_log",
    "keep_repr",
    "rendered_chain",
]


@dataclass
class Collection:
    """What one run left behind, by where it was found."""

    logs: io.StringIO = field(default_factory=io.StringIO)
    error_frames: list[Any] = field(default_factory=list)
    exceptions: list[BaseException] = field(default_factory=list)
    reprs: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    log_records: int = 0


_current: list[Collection] = []


def keep(thing: Any) -> None:
    """Keep an error frame or an exception (no-op unless collecting)."""
    if not _current:
        return
    if isinstance(thing, BaseException):
        _current[-1].exceptions.append(thing)
    else:
        _current[-1].error_frames.append(thing)


def keep_repr(thing: Any) -> None:
    """Keep ``repr(thing)`` (a service, a backend, its settings)."""
    if _current:
        _current[-1].reprs.append(repr(thing))


def keep_log(text: str) -> None:
    """Keep output meant for people (a command's stderr) with the logs."""
    if _current:
        _current[-1].logs.write(text)


def keep_files(folder: Path) -> None:
    """Keep the contents of every file under ``folder`` (before it is deleted)."""
    if not _current:
        return
    for path in folder.rglob("*"):
        if path.is_file():
            _current[-1].files[str(path)] = path.read_bytes()


_HARNESS = str(Path(__file__).parent)


def rendered_chain(error: BaseException) -> str:
    """``error`` as an error tracker shows it: whole chain, every frame's local variables.

    Every chained cause and context is rendered, with the repr of every local
    variable of every traceback frame.

    The frames of the suite itself, where the error was caught, are left out:
    they hold the token because the suite passed it in, as an app's would.
    A repr that raises is shown as such (and is itself a finding to read).
    """
    parts: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        parts += [_safe_repr(current), *traceback.format_exception_only(type(current), current)]
        tb = current.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_HARNESS):
            tb = tb.tb_next
        for frame, _ in traceback.walk_tb(tb):
            parts.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")
            parts += [f"    {name} = {_safe_repr(value)}" for name, value in frame.f_locals.items()]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return "\n".join(parts)


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as exc:
        return f"<repr raised {type(exc).__name__}>"


class _Handler(logging.Handler):
    def __init__(self, collection: Collection) -> None:
        super().__init__(level=logging.NOTSET)
        self._collection = collection
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self._collection.log_records += 1
        self._collection.logs.write(self.format(record) + "\n")


@contextmanager
def collecting() -> Iterator[Collection]:
    """Collect evidence, and every log record at the most verbose level, for the duration.

    Pipecat logs through loguru (its most verbose level is ``TRACE``);
    imagegen and aiohttp through :mod:`logging` (level 1 lets everything through).
    """
    collection = Collection()
    root = logging.getLogger()
    handler = _Handler(collection)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(1)

    def sink(message: Any) -> None:
        collection.log_records += 1
        collection.logs.write(str(message))

    sink_id = logger.add(sink, level="TRACE", backtrace=True, diagnose=True)
    _current.append(collection)
    try:
        yield collection
    finally:
        _current.remove(collection)
        logger.remove(sink_id)
        root.removeHandler(handler)
        root.setLevel(old_level)
