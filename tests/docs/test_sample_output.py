"""Sample output of `imagegen backends` in the docs is what the command prints.

Every console block line ``$ imagegen backends`` (or ``$ uv run imagegen
backends``) is followed by the output a reader should see. A page may show
fewer backends than this workspace has (it shows what its reader
installed), but each backend it shows must read exactly as the command
prints it here: name, distribution, version, marks and capabilities. A
detail line ``...`` elides the details; a backend that exists only in a
guide is named in :data:`NOT_IN_THE_WORKSPACE`.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from imagegen_core.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])
_CONSOLE = re.compile(r"^```console\n(?P<body>.*?)^```", re.S | re.M)
_COMMAND = re.compile(r"^\$ (?:uv run )?imagegen backends$")

NOT_IN_THE_WORKSPACE = {"acme": "the example backend that docs/writing-a-backend.md builds"}
"""Backends the docs show that this workspace does not install, and why."""

Entries = dict[str, list[str]]
"""Backend name -> its header (after the name) and detail lines, whitespace-trimmed."""


def entries(lines: list[str]) -> Entries:
    """Group `imagegen backends` output lines by backend (a name line, then indented lines)."""
    found: Entries = {}
    current: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if line[0].isspace():
            current.append(line.strip())
        else:
            name, _, rest = line.partition(" ")
            current = found.setdefault(name, [rest.strip()])
    return found


def documented_samples() -> list[tuple[str, Entries]]:
    samples = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in _CONSOLE.finditer(text):
            lines = block["body"].splitlines()
            for index, line in enumerate(lines):
                if not _COMMAND.match(line):
                    continue
                output = []
                for following in lines[index + 1 :]:
                    if following.startswith("$ "):
                        break
                    output.append(following)
                if output:
                    line_number = text.count("\n", 0, block.start()) + index + 2
                    where = f"{page.relative_to(ROOT)}:{line_number}"
                    samples.append((where, entries(output)))
    return samples


SAMPLES = documented_samples()


def printed() -> Entries:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["backends"]) == 0
    return entries(out.getvalue().splitlines())


def test_the_docs_show_sample_output() -> None:
    assert SAMPLES, "no `$ imagegen backends` sample output found in the docs"


@pytest.mark.parametrize(("where", "sample"), SAMPLES, ids=[where for where, _ in SAMPLES])
def test_each_backend_in_the_sample_reads_as_the_command_prints_it(
    where: str, sample: Entries
) -> None:
    actual = printed()
    for name, lines in sample.items():
        if name in NOT_IN_THE_WORKSPACE:
            continue
        assert name in actual, f"{where} shows backend {name!r}, which is not installed here"
        expected = [actual[name][0], "..."] if lines[1:] == ["..."] else actual[name]
        assert lines == expected, (
            f"{where}: the sample output for {name!r} is stale; `imagegen backends` prints\n"
            + "\n".join(actual[name])
        )
