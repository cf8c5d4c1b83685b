"""Settings for every test in this repository (each package's tests inherit it)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipecat_selection import MARKER, PipecatDependence, forbid_pipecat_imports

_ROOT = Path(__file__).parent
_DEPENDENCE = PipecatDependence(_ROOT)
_CHOICES = ("all", "only", "none")
_MIN_SELECTED = 300
"""Fewer tests than this under ``--pipecat-tests=only`` means the selection broke.

About 600 of the suite's 1,900 tests reach Pipecat; a rule that
selected almost none would pass every compat session while testing nothing.
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--pipecat-tests``: every test file, only those reaching Pipecat, or only the others."""
    parser.addoption(
        "--pipecat-tests",
        choices=_CHOICES,
        default="all",
        help=f"all: every test file (those reaching Pipecat marked {MARKER}); only: just "
        "those (the compat sessions); none: just the others, with any import of Pipecat "
        "failing the test that makes it (proves the marking, in the `nopipecat` session)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``pipecat`` marker; under ``none``, make every import of Pipecat fail."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}: the test file reaches Pipecat (set by the repository's conftest from "
        "what the file imports: pipecat_selection.py)",
    )
    if config.getoption("pipecat_tests") == "none":
        forbid_pipecat_imports()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave out the test files ``--pipecat-tests`` does not ask for (before importing them)."""
    choice = config.getoption("pipecat_tests")
    if choice == "all" or not _is_test_file(collection_path):
        return None
    return _DEPENDENCE.depends(collection_path) != (choice == "only")


def _is_test_file(path: Path) -> bool:
    return path.suffix == ".py" and path.name.startswith("test_")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of files that reach Pipecat; refuse an implausibly small compat selection."""
    for item in items:
        if _DEPENDENCE.depends(item.path):
            item.add_marker(MARKER)
    if config.getoption("pipecat_tests") == "only" and len(items) < _MIN_SELECTED:
        raise pytest.UsageError(
            f"--pipecat-tests=only selected {len(items)} tests, fewer than {_MIN_SELECTED}: "
            "the rule in pipecat_selection.py no longer finds the tests that reach Pipecat"
        )


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
