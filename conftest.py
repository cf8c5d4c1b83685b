"""Settings for every test in this repository (each package's tests inherit it)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def _offline_pipecat(imagegen_offline_nltk: object) -> None:
    """Apply imagegen-testing's offline NLTK stand-in to the whole session.

    Our suites start Pipecat pipelines under every release in the compat
    matrix; releases before 1.12 would try to download NLTK data when they do.
    """


_BLOCK = re.compile(r"```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
_FILE_MARK = re.compile(r"# (?P<path>[\w./-]+)")


@dataclass(frozen=True)
class DocProject:
    """The project a guide has its reader build, written out and "installed".

    ``sources`` are the guide's files by path (the Python blocks that open
    with a comment naming one); ``pyproject`` merges its ``# pyproject.toml``
    blocks. The project is installed by a ``.dist-info`` folder in ``src/``
    beside its packages, which is all ``importlib.metadata`` needs to find the
    entry points: put ``src`` on ``sys.path`` (or ``PYTHONPATH``) to use it.
    """

    root: Path
    sources: dict[str, str]
    pyproject: dict[str, Any]

    @property
    def src(self) -> Path:
        """The folder to put on ``sys.path``: the project's packages and its ``.dist-info``."""
        return self.root / "src"


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def write_doc_project(page: Path, root: Path) -> DocProject:
    """Write the files ``page`` has its reader create under ``root``, and install the project."""
    sources: dict[str, str] = {}
    pyproject: dict[str, Any] = {}
    for block in _BLOCK.finditer(page.read_text(encoding="utf-8")):
        mark = _FILE_MARK.match(block["body"])
        if mark is None:
            continue
        if block["lang"] == "python":
            sources[mark["path"]] = block["body"]
        elif block["lang"] == "toml" and mark["path"] == "pyproject.toml":
            _merge(pyproject, tomllib.loads(block["body"]))
    for path, text in sources.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        if target.parent.parent.name == "src":  # a package of the project: `touch __init__.py`
            (target.parent / "__init__.py").touch()
    project = pyproject["project"]
    dist_info = root / "src" / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
            for group, points in project.get("entry-points", {}).items()
        )
    )
    return DocProject(root, sources, pyproject)


@pytest.fixture
def doc_project() -> Callable[[Path, Path], DocProject]:
    """:func:`write_doc_project`, for tests in any package of the repository.

    docs/writing-a-backend.md's project is used by the guide's own test
    (imagegen-testing) and by the test that runs every CLI line of the docs
    (tests/docs); a fixture here is what both can reach.
    """
    return write_doc_project
