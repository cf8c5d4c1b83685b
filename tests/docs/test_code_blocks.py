"""Every Python block in the docs compiles, type-checks (mypy strict) and runs.

So that no snippet on the site or in the README goes stale: each ```python
block of ``README.md`` and ``docs/*.md`` is written out and

* compiled;
* type-checked with mypy in strict mode, the blocks of one page together
  (a block that starts with a comment naming a file, ``# src/pkg/mod.py``, is
  written at that path, so a page's blocks can import each other as the
  reader's project would);
* run in a fresh interpreter as a script, in an empty directory, with no
  provider credentials in the environment and ``IMAGEGEN_BACKEND=fake``, so
  a block that ends in ``asyncio.run(main())`` runs its example end to end
  (against the bundled emulator or the fake backend); a block written as a
  test module (``# tests/test_x.py``) is run with pytest instead.

A block that must not run here (it would call a live service, or it is a
test module that the guide's own test runs) is preceded by the HTML comment
``<!-- docs-test: no-run: REASON -->``; it is still compiled and type-checked.
Console blocks are not run here (the commands they show are checked by the
tests of the commands themselves).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])
_BLOCK = re.compile(
    r"(?:<!-- docs-test: no-run: (?P<reason>[^>]*?) -->\n)?^```python\n(?P<body>.*?)^```",
    re.S | re.M,
)
_FILE_MARK = re.compile(r"# (?P<path>[\w./-]+\.py)\n")
# What the docs tell readers to configure for their own test modules.
_PYTEST_AS_DOCUMENTED = [
    "-o",
    "asyncio_mode=auto",
    "-o",
    "asyncio_default_fixture_loop_scope=function",
]
_SECRETS = ("REPLICATE_API_TOKEN", "IMAGEGEN_RECORD_LIVE", "OPENAI_API_KEY")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    body: str
    path: str  # where the block is written, relative to the page's project
    no_run: str | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for number, match in enumerate(_BLOCK.finditer(text), start=1):
        body = match["body"]
        mark = _FILE_MARK.match(body)
        stem = re.sub(r"\W", "_", page.stem)
        path = mark["path"] if mark else f"docs_{stem}_block_{number}.py"
        line = text.count("\n", 0, match.start("body")) + 1
        found.append(Block(page, line, body, path, match["reason"]))
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page)]
PAGES_WITH_BLOCKS = sorted({block.page for block in ALL_BLOCKS})


def write_project(page: Path, into: Path) -> list[Path]:
    """Write the page's blocks as files under ``into``; return their paths."""
    written = []
    for block in blocks_of(page):
        target = into / block.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise AssertionError(f"{block.id}: a second block writes {block.path}")
        target.write_text(block.body, encoding="utf-8")
        written.append(target)
    return written


def _environment(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SECRETS}
    extra = [str(project), str(project / "src")]
    env["PYTHONPATH"] = os.pathsep.join([*extra, env.get("PYTHONPATH", "")])
    env["IMAGEGEN_BACKEND"] = "fake"
    return env


def test_the_docs_have_python_blocks() -> None:
    # The extraction itself must find what is there, or every test below passes vacuously.
    assert len(ALL_BLOCKS) >= 15
    assert any(b.page.name == "README.md" for b in ALL_BLOCKS)


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.id)
def test_block_compiles(block: Block) -> None:
    compile(block.body, block.id, "exec")


@pytest.mark.parametrize("page", PAGES_WITH_BLOCKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_blocks_pass_mypy_strict(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is in the typecheck dependency group")
    files = write_project(page, tmp_path)
    # Module names are found from the page's project root and its src/, as
    # in the reader's project.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYPYPATH", os.pathsep.join([str(tmp_path), str(tmp_path / "src")]))
    # The workspace's mypy configuration (strict, the pydantic plugin) and its
    # cache: the nox typecheck session runs this right after mypy has checked
    # the packages in the same environment, so only the blocks are new.
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--explicit-package-bases",
            *(str(f.relative_to(tmp_path)) for f in files),
        ]
    )
    assert status == 0, f"mypy on the blocks of {page.name}:\n{stdout}{stderr}"


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.no_run is None], ids=lambda b: b.id)
def test_block_runs(block: Block, tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_project(block.page, project)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    target = project / block.path
    is_test_module = target.parent.name == "tests" and target.name.startswith("test_")
    command = (
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *_PYTEST_AS_DOCUMENTED,
            str(target),
        ]
        if is_test_module
        else [sys.executable, str(target)]
    )
    completed = subprocess.run(  # noqa: S603 - our own interpreter, the docs' own code
        command,
        cwd=workdir,
        env=_environment(project),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{block.id} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr[-4000:]}"
    )
