"""Showing a generation's progress on a terminal, on stderr, while `imagegen generate` waits.

Progress is for people watching: on a terminal the display shows what is
going on (``generating with replicate``), the time since the request was
sent, and the backend's latest report when it makes one (a percentage, a
queue position, a log line, "preview"). A backend that reports nothing still
shows status and elapsed time; nothing invents a fraction. The display is
wiped before an image path or a warning is printed, so stdout keeps only file
paths and stderr only lines worth keeping. When stderr is not a terminal (a
pipe, a log file, CI) nothing is drawn at all.

Two renderers: with the ``progress`` extra (``imagegen-core[progress]``)
`rich <https://rich.readthedocs.io>`_ draws a spinner, a bar once the backend
reports a fraction, and the elapsed time (rich handles terminal widths,
redraws and wide characters, which a hand-made line gets wrong); without it
one plain line is redrawn in place (a carriage return, then the text).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TextIO

from imagegen_core._progress import GenerationProgress

__all__ = ["ProgressDisplay", "progress_display", "ticking"]

_TICK = 0.25
"""Seconds between redraws of the plain line (so the elapsed time moves)."""


class ProgressDisplay(Protocol):
    """What `imagegen generate` draws progress with."""

    def show(self, progress: GenerationProgress) -> None:
        """Show the backend's latest report."""

    def clear(self) -> None:
        """Wipe the display, so the next output starts on a clean line."""

    def tick(self) -> None:
        """Redraw (the elapsed time has moved on)."""


def progress_display(
    stream: TextIO,
    *,
    status: str,
    prog: str,
    use_rich: bool | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ProgressDisplay:
    """The display for ``stream``: nothing unless it is a terminal.

    Args:
        stream: Where to draw (stderr).
        status: What is going on, e.g. ``"generating with replicate"``.
        prog: The program name that starts the plain line.
        use_rich: Use rich (True), the plain line (False), or rich when it
            is installed (None).
        clock: Where elapsed time is read (tests pass their own).
    """
    if not stream.isatty():
        return _Quiet()
    if use_rich is not False:
        try:
            return _RichDisplay(stream, status=status, clock=clock)
        except ImportError:
            if use_rich:
                raise
    return _PlainLine(stream, status=status, prog=prog, clock=clock)


@contextlib.asynccontextmanager
async def ticking(display: ProgressDisplay) -> AsyncIterator[None]:
    """Redraw ``display`` every quarter second while the block runs, then wipe it."""

    async def tick() -> None:
        while True:
            display.tick()
            await asyncio.sleep(_TICK)

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        display.clear()


def _elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}" if minutes else f"{seconds:.1f}s"


class _Quiet:
    """Not a terminal: draw nothing."""

    def show(self, progress: GenerationProgress) -> None:
        pass

    def clear(self) -> None:
        pass

    def tick(self) -> None:
        pass


class _PlainLine:
    """One line of stderr, redrawn in place: ``imagegen: generating with fake 1.2s - 40%``."""

    def __init__(
        self, stream: TextIO, *, status: str, prog: str, clock: Callable[[], float]
    ) -> None:
        self._stream = stream
        self._status = status
        self._prog = prog
        self._clock = clock
        self._started = clock()
        self._report: str | None = None
        self._width = 0

    def show(self, progress: GenerationProgress) -> None:
        self._report = progress.describe()
        self.tick()

    def tick(self) -> None:
        columns = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        text = f"{self._prog}: {self._status} {_elapsed(self._clock() - self._started)}"
        if self._report:
            text += f" - {self._report}"
        text = text[:columns]
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if not self._width:
            return
        self._stream.write("\r" + " " * self._width + "\r")
        self._stream.flush()
        self._width = 0


class _RichDisplay:
    """rich's progress display: spinner, status, a bar once a fraction is known, elapsed time."""

    def __init__(self, stream: TextIO, *, status: str, clock: Callable[[], float]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress: Any = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[report]}"),
            console=Console(file=stream, stderr=True),
            transient=True,  # wiped when stopped: the terminal keeps only paths and warnings
            redirect_stdout=False,  # stdout is for image paths, untouched
            redirect_stderr=False,
            get_time=clock,
        )
        # total=None: no fraction yet, so the bar pulses instead of inventing one.
        self._task = self._progress.add_task(status, total=None, report="")
        self._running = False

    def show(self, progress: GenerationProgress) -> None:
        report = progress.describe()
        if progress.percent is not None:  # the bar's own column shows it
            report = report.removeprefix(f"{progress.percent}%").removeprefix(" - ")
        if progress.fraction is not None:
            self._progress.update(self._task, total=1.0, completed=progress.fraction)
        self._progress.update(self._task, report=report)
        self.tick()

    def tick(self) -> None:
        if not self._running:
            self._progress.start()
            self._running = True

    def clear(self) -> None:
        if self._running:
            self._progress.stop()
            self._running = False
