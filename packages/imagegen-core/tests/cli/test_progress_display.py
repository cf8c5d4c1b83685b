"""`imagegen generate`'s progress display: status, elapsed time, the backend's reports.

Unit tests drive each renderer with a fake clock; the end-to-end tests run
the command with stderr on a real pseudo-terminal (``pty``), once with rich
(the ``progress`` extra, installed for the tests) and once with rich made
unimportable, as when the extra is not installed.
"""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from imagegen_core import GenerationProgress
from imagegen_core.cli._progress import progress_display

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_plain_line_shows_status_elapsed_time_and_the_report_then_wipes_itself() -> None:
    terminal, clock = _Terminal(), _Clock()
    display = progress_display(
        terminal, status="generating with fake", prog="imagegen", use_rich=False, clock=clock
    )
    display.tick()
    clock.now += 1.5
    display.show(GenerationProgress(fraction=0.4, message="step 2/5"))
    lines = terminal.getvalue().split("\r")
    assert lines[1].strip() == "imagegen: generating with fake 0.0s"
    assert lines[2].strip() == "imagegen: generating with fake 1.5s - 40% - step 2/5"
    display.clear()
    assert terminal.getvalue().endswith("\r" + " " * len(lines[2].rstrip()) + "\r")


def test_a_backend_that_reports_nothing_still_shows_status_and_elapsed_time() -> None:
    terminal, clock = _Terminal(), _Clock()
    display = progress_display(
        terminal, status="generating with x", prog="p", use_rich=False, clock=clock
    )
    clock.now += 75
    display.tick()
    assert terminal.getvalue().strip() == "p: generating with x 1:15"


def test_nothing_is_drawn_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    display = progress_display(stream, status="generating", prog="imagegen")
    display.tick()
    display.show(GenerationProgress(fraction=0.5))
    display.clear()
    assert stream.getvalue() == ""


def test_rich_draws_status_the_fraction_and_the_report() -> None:
    pytest.importorskip("rich")
    terminal = _Terminal()
    display = progress_display(terminal, status="generating with fake", prog="imagegen")
    display.show(GenerationProgress(fraction=0.5, message="step 1/2"))
    display.clear()
    drawn = terminal.getvalue()
    assert "generating with fake" in drawn
    assert "50%" in drawn
    assert "step 1/2" in drawn


def _run_on_a_pty(out: Path, *, rich: bool) -> tuple[str, str]:
    """Run `imagegen generate` with stderr on a pty; return (stdout, what the terminal showed)."""
    block_rich = "" if rich else "import sys; sys.modules['rich'] = None; "
    code = f"{block_rich}from imagegen_core.cli import main; raise SystemExit(main())"
    args = ["x", "--backend", "fake", "--set", "progress_steps=4"]
    args += ["--set", "progress_latency=0.3", "--out", str(out)]
    primary, secondary = pty.openpty()
    with subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code, "generate", *args],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    ) as process:
        os.close(secondary)
        shown = b""
        while True:
            ready, _, _ = select.select([primary], [], [], 60)
            if not ready:
                process.kill()
                break
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the command closed its end
                break
            if not chunk:
                break
            shown += chunk
        stdout = process.stdout.read().decode() if process.stdout else ""
        assert process.wait(timeout=60) == 0, shown.decode(errors="replace")
    os.close(primary)
    return stdout, shown.decode(errors="replace")


@pytest.mark.parametrize("rich", [True, False], ids=["rich", "plain"])
def test_generate_on_a_terminal_shows_progress_and_keeps_stdout_for_paths(
    tmp_path: Path, rich: bool
) -> None:
    if rich:
        pytest.importorskip("rich")
    stdout, shown = _run_on_a_pty(tmp_path, rich=rich)
    assert stdout.splitlines() == [str(tmp_path / "x-1.png")]
    assert "generating with fake" in shown
    assert "%" in shown, "the backend's fractions are shown"
    if not rich:
        assert "imagegen: generating with fake" in shown
        assert shown.endswith("\r"), "the line is wiped before the command ends"
