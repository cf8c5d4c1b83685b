"""The one command that records a cassette, and the message that tells people so.

A missing cassette skips its test instead of failing it (a fresh clone of a
backend without recordings must still pass), but a skip that does not say how
to stop skipping is a dead end; :func:`missing_cassette_message` names the
exact command for the very test that skipped.
"""

from __future__ import annotations

import shlex
from pathlib import Path

__all__ = ["LIVE_OPT_IN", "missing_cassette_message", "record_command"]

LIVE_OPT_IN = "IMAGEGEN_RECORD_LIVE"
"""Overrides where a provider records: ``0`` an emulator even though a token is
set, ``1`` the real service (which then needs the token). Unset, a provider with
an emulator records live exactly when its token is set."""


def record_command(target: str, *, mode: str = "once") -> str:
    """The shell command that records the cassettes of ``target``.

    Args:
        target: A pytest node id or path, as the user would type it.
        mode: pytest-recording's ``--record-mode``: ``once`` records what is
            missing, ``rewrite`` records everything again from scratch.
    """
    return f"python -m pytest {shlex.quote(target)} --record-mode={mode}"


def missing_cassette_message(cassette: Path, node_id: str, test_file: Path | None = None) -> str:
    """Why a network-bound test skipped, and the command that fixes it.

    Args:
        cassette: The cassette file that was looked for.
        node_id: The test's pytest node id.
        test_file: The test's file, to write the node id relative to the
            current directory (pytest's node ids are relative to its rootdir).
    """
    target = node_id
    if test_file is not None:
        _, sep, rest = node_id.partition("::")
        target = f"{_relative(test_file)}{sep}{rest}"
    return (
        f"no cassette {cassette.name} in {_relative(cassette.parent)}; record it with: "
        f"{record_command(target)}"
    )


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
