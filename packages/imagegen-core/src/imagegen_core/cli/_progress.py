"""Showing a generation's progress on a terminal, on one line of stderr.

Progress is for people watching: on a terminal the latest report (a
provider's percentage, queue position, "preview 1/2") is drawn over the
previous one, and wiped before a result or warning is printed, so stdout
keeps only file paths and stderr only lines worth keeping. When stderr is not
a terminal (a pipe, a log file, CI) nothing is drawn at all.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from imagegen_core._progress import GenerationProgress

__all__ = ["ProgressLine"]


class ProgressLine:
    """The one line of stderr that progress reports are drawn on.

    Args:
        stream: Where to draw (stderr); nothing is drawn unless it is a terminal.
        prog: The program name that starts the line.
    """

    def __init__(self, stream: TextIO, *, prog: str) -> None:
        self._stream = stream
        self._prog = prog
        self._enabled = stream.isatty()
        self._width = 0

    def show(self, progress: GenerationProgress) -> None:
        """Draw ``progress`` over whatever the line showed."""
        if not self._enabled:
            return
        columns = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        text = f"{self._prog}: {progress.describe()}"[:columns]
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        """Wipe the line, so the next output starts on a clean one."""
        if not self._enabled or not self._width:
            return
        self._stream.write("\r" + " " * self._width + "\r")
        self._stream.flush()
        self._width = 0
