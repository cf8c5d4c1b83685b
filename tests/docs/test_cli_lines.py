"""Every ``imagegen`` command line in the docs and package READMEs runs and prints what it shows.

The shell blocks (```console, ```bash) of ``README.md``, ``docs/`` and
``packages/*/README.md`` are read as a reader would type them, page by page,
in order, in one empty working directory:

* in a block with ``$`` prompts the prompted lines are commands and the lines
  after one are its output; a block without prompts is all commands; a
  trailing ``\\`` continues a command, ``#`` starts a comment;
* an ``imagegen ...`` command (``uv run`` in front or not) runs as
  ``python -m imagegen_core ...`` and must exit 0, and every output line the
  page shows (other than ``...``) must be a line of what it printed, spacing
  aside;
* ``export NAME=VALUE`` sets the variable for the page's later commands;
* the command that starts an emulator (``imagegen-replicate-emulator``,
  ``python -m imagegen_testing.emulator``) is what this test did before the
  page: the Replicate and OpenAI emulators run for the whole module on free
  ports, stand in for the live services (``REPLICATE_*`` and ``OPENAI_*``
  point at them), and the documented ports (8787, 8788) in a command are
  replaced by theirs;
* other commands (``uv add``, ``pip install``, ``cd``) are the reader's set-up
  and are not run: this environment already has what they install.

A page that has its reader write a project (Python blocks opening with a
``# src/...`` comment, ``# pyproject.toml`` blocks with entry points) gets it
written and installed first, through the root conftest.py's ``doc_project``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("**/*.md"), *(ROOT / "packages").glob("*/README.md")]
)
_SHELL_BLOCK = re.compile(r"^```(?:console|bash|shell|sh)\n(?P<body>.*?)^```", re.S | re.M)
_SECRETS = ("REPLICATE_API_TOKEN", "OPENAI_API_KEY", "IMAGEGEN_RECORD_LIVE", "IMAGEGEN_BACKEND")


@dataclass
class Step:
    """One command of a page: where it is, its words, and the output the page shows."""

    page: Path
    line: int
    argv: list[str]
    shown: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _commands(body: str, first_line: int) -> Iterator[tuple[int, str, list[str]]]:
    """(line, command text, output lines shown) for each command of a shell block."""
    lines = body.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    index = 0
    while index < len(lines):
        start = index
        text = lines[index]
        if prompted and not text.startswith("$ "):
            index += 1
            continue
        text = text.removeprefix("$ ")
        while text.endswith("\\") and index + 1 < len(lines):
            index += 1
            text = text[:-1] + " " + lines[index].strip()
        index += 1
        shown = []
        while prompted and index < len(lines) and not lines[index].startswith("$ "):
            shown.append(lines[index])
            index += 1
        if text.strip():
            yield first_line + start, text, shown


def steps_of(page: Path) -> list[Step]:
    """Every command of the page's shell blocks, split at ``&&``, without ``uv run``."""
    text = page.read_text(encoding="utf-8")
    steps = []
    for block in _SHELL_BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start("body")) + 1
        for line, command, shown in _commands(block["body"], first_line):
            words = shlex.split(command, comments=True)
            parts: list[list[str]] = [[]]
            for word in words:
                if word == "&&":
                    parts.append([])
                else:
                    parts[-1].append(word)
            for argv in parts:
                if argv[:2] == ["uv", "run"]:
                    argv = argv[2:]
                if argv:
                    steps.append(Step(page, line, argv, shown if argv is parts[-1] else []))
    return steps


def _is_imagegen(step: Step) -> bool:
    return step.argv[0] == "imagegen"


PAGES_WITH_COMMANDS = [page for page in PAGES if any(map(_is_imagegen, steps_of(page)))]


def test_the_docs_have_imagegen_command_lines() -> None:
    # The extraction must find what is there, or the test below passes vacuously.
    lines = [step for page in PAGES for step in steps_of(page) if _is_imagegen(step)]
    assert len(lines) >= 15
    names = {page.relative_to(ROOT).as_posix() for page in PAGES_WITH_COMMANDS}
    assert {"README.md", "docs/cli.md", "docs/quickstart.md", "docs/openai.md"} <= names
    assert "docs/writing-a-backend.md" in names


@dataclass(frozen=True)
class Emulators:
    """The emulators standing in for Replicate and OpenAI, and the variables that point at them."""

    replicate_url: str
    openai_url: str
    environment: dict[str, str]

    def substitute(self, text: str) -> str:
        """``text`` with the documented emulator ports replaced by the ones in use."""
        for documented, actual in (("8787", self.replicate_url), ("8788", self.openai_url)):
            origin = actual.removesuffix("/v1")
            text = text.replace(f"http://127.0.0.1:{documented}", origin)
        return text


def _start(module: str, marker: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and emulator
        [sys.executable, "-m", module, "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if marker in line:
            return process, line.split(marker, 1)[1].strip()
    process.kill()
    raise AssertionError(f"{module} exited before printing its base URL")


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    from imagegen_testing.emulator import EMULATOR_API_TOKEN
    from imagegen_testing.openai_emulator import EMULATOR_API_KEY

    replicate, replicate_url = _start("imagegen_testing.emulator", "base URL:")
    try:
        openai, openai_url = _start("imagegen_testing.openai_emulator", "OPENAI_BASE_URL=")
        try:
            yield Emulators(
                replicate_url,
                openai_url,
                {
                    "REPLICATE_BASE_URL": replicate_url,
                    "REPLICATE_API_TOKEN": EMULATOR_API_TOKEN,
                    "OPENAI_BASE_URL": openai_url,
                    "OPENAI_API_KEY": EMULATOR_API_KEY,
                },
            )
        finally:
            openai.terminate()
            openai.wait(timeout=30)
    finally:
        replicate.terminate()
        replicate.wait(timeout=30)


def _normalized(lines: list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines]


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_imagegen_line_of_the_page_runs(
    page: Path, tmp_path: Path, emulators: Emulators, doc_project: Any
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _SECRETS}
    env.update(emulators.environment)
    if "# pyproject.toml" in page.read_text(encoding="utf-8"):
        project = doc_project(page, tmp_path / "project")
        env["PYTHONPATH"] = os.pathsep.join([str(project.src), env.get("PYTHONPATH", "")])
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    for step in steps_of(page):
        argv = [emulators.substitute(word) for word in step.argv]
        if argv[0] == "export":
            for assignment in argv[1:]:
                name, _, value = assignment.partition("=")
                env[name] = value
            continue
        if not _is_imagegen(step):
            continue  # set-up, or starting an emulator (already running: see the docstring)
        completed = subprocess.run(  # noqa: S603 - our own interpreter and command
            [sys.executable, "-m", "imagegen_core", *argv[1:]],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, (
            f"{step.where}: `{shlex.join(step.argv)}` exited {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr[-4000:]}"
        )
        printed = _normalized(completed.stdout.splitlines())
        missing = [line for line in _normalized(step.shown) if line not in ("", "...", *printed)]
        assert not missing, (
            f"{step.where}: `{shlex.join(step.argv)}` did not print what the page shows: "
            f"{missing}\nit printed:\n{completed.stdout}"
        )
