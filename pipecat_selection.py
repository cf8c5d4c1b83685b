"""Which test files can change with the installed Pipecat release, read from their code.

The `compat` sessions run the suite against several Pipecat releases; a test
whose code never reaches Pipecat gives the same result under each of them,
given dependency versions that full runs bracket (noxfile.py checks that per
session; docs/maintaining.md, "What compat runs"). Those sessions therefore
run only the test files this module marks (``--pipecat-tests=only``), and
the mark comes from the code, never from a hand-kept list that would rot.

A test file reaches Pipecat when Pipecat is in the import closure of the
file, of the ``conftest.py`` files above it and of imagegen's pytest plugin.
The closure is read statically (:mod:`ast`) and errs towards inclusion:

* in a test file or a helper of this repository every ``import`` counts,
  at module level or inside a function (not under ``if TYPE_CHECKING:``,
  which never runs), relative ones resolved;
* there, a dotted name of Pipecat or of an imagegen package inside any
  string (``import_module("pipecat.frames")``, ``"-m", "imagegen_core"``,
  code run with ``python -c``, ``monkeypatch.setattr("imagegen_core.x.y")``)
  counts as an import of it, a package's ``__main__`` included; docstrings
  (bare string statements) do not count;
* our packages' modules (as installed: wheels or editable) are followed; a
  module pulls in the ``__init__`` of every package above it; a function's
  imports count once a file of the closure names the function (see
  :class:`_Code`), and of their strings only an import function's argument;
* a file that reads entry points pulls in every ``imagegen*`` entry point's
  module (the backends the plugin registry and the CLI load);
* a file that runs Python code by path (``spec_from_file_location``,
  ``exec_module``, ``runpy``), such as the test of an example script, counts
  as reaching Pipecat: what it runs cannot be followed.

Third-party modules other than Pipecat are not followed: none of ours
imports Pipecat. :func:`forbid_pipecat_imports` is the check that the rule
missed nothing: the `nopipecat` session runs every unmarked file under it.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
from collections.abc import Iterator, Sequence
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import pytest

__all__ = ["FIRST_PARTY", "MARKER", "PipecatDependence", "forbid_pipecat_imports"]

MARKER = "pipecat"
"""The pytest mark of a test whose file reaches Pipecat."""
FIRST_PARTY = ("imagegen_core", "imagegen_openai", "imagegen_replicate", "imagegen_testing")
"""The import packages of this repository's distributions, followed wherever installed."""

_TOPS = ("pipecat", *FIRST_PARTY)
_NAME_IN_TEXT = re.compile(rf"(?<![\w.-])(?:{'|'.join(_TOPS)})(?:\.\w+)*(?![\w-])")
_RUNS_BY_PATH = frozenset({"spec_from_file_location", "exec_module", "run_path", "runpy"})
_READS_ENTRY_POINTS = "entry_points"
_PLUGIN = "imagegen_testing.pytest_plugin"
_IMPORT_CALLS = frozenset(
    {"import_module", "__import__", "importorskip", "find_spec", "run_module"}
)


class _Code:
    """A stretch of code that runs as a whole: what it imports and what names it uses.

    ``served`` names what makes it run: empty for a file's top level (it runs
    on import), else the names whose use calls it (a function's name; for a
    module ``__getattr__`` also the attributes it serves; for a ``test*``
    method of a class the class's name, since pytest calls it unnamed in
    every test class deriving from it). ``by_tests`` says that only a use in a
    test-side file counts (a ``test*`` method runs only where a test module
    collects its class; a re-export is no collection).
    """

    def __init__(self, served: frozenset[str] = frozenset(), *, by_tests: bool = False) -> None:
        self.served = served
        self.by_tests = by_tests
        self.names: set[str] = set()
        self.relative: set[Path] = set()
        self.used: set[str] = set()
        self.star = False
        """Whether it runs ``from module import *`` (using every name the module serves)."""


class _Reads(ast.NodeVisitor):
    """What one source file refers to, stretch by stretch, and whether it runs code by path."""

    def __init__(self, path: Path) -> None:
        self._path = path
        # Our packages' own strings are messages and ``sys.modules`` keys; in
        # them only an import function's argument counts, and a function's
        # imports run only when it is called. Tests and helpers are read
        # whole: every string counts (code for ``python -c``, ``-m`` targets,
        # patched names), every import wherever it stands.
        self.package_code = any(part in FIRST_PARTY for part in path.parts)
        self.top = _Code()
        self.functions: list[_Code] = []
        self.runs_by_path = False
        self.reads_entry_points = False
        self._into = self.top
        self._classes: list[str] = []
        self.visit(ast.parse(path.read_bytes(), filename=str(path)))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._classes.append(node.name)
        self.generic_visit(node)
        self._classes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if not self.package_code or self._into is not self.top:
            self.generic_visit(node)
            return
        served = {node.name}
        is_test = node.name.startswith("test")
        if is_test and self._classes:
            served.add(self._classes[0])
        if node.name == "__getattr__":
            asked = node.args.args[0].arg if node.args.args else ""
            served |= {
                str(c.value)
                for n in ast.walk(node)
                if isinstance(n, ast.Compare)
                and isinstance(n.left, ast.Name)
                and n.left.id == asked
                for c in ast.walk(n)
                if isinstance(c, ast.Constant)
            }
            served |= {
                alias.asname or alias.name.rpartition(".")[2]
                for n in ast.walk(node)
                if isinstance(n, ast.Import | ast.ImportFrom)
                for alias in n.names
            }
        self._into = _Code(frozenset(served), by_tests=is_test)
        self.generic_visit(node)
        self.functions.append(self._into)
        self._into = self.top

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        # ``if TYPE_CHECKING:`` never runs; its ``else:`` does.
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for statement in node.orelse:
                self.visit(statement)
        else:
            self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        # A bare string statement is a docstring: prose, not code.
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # ``__all__`` lists names for ``import *``, which wakes every function.
        if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._into.names.add(alias.name)
            self._use(alias.asname or alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            self._use(alias.asname or alias.name)
        self._into.star |= any(alias.name == "*" for alias in node.names)
        if node.level:
            # A relative import names files beside this one, not an importable dotted name.
            base = self._path.parents[node.level - 1].joinpath(*module.split(".") if module else ())
            self._into.relative.update(base / alias.name for alias in node.names)
            if module:
                self._into.relative.add(base)
            return
        self._into.names.add(module)
        self._into.names.update(f"{module}.{alias.name}" for alias in node.names)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        called = function.id if isinstance(function, ast.Name) else getattr(function, "attr", "")
        if self.package_code and called in _IMPORT_CALLS:
            for argument in node.args:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    self._text(argument.value)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._into.used.add(node.value)
            if not self.package_code:
                self._text(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        self._use(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._use(node.attr)
        self.generic_visit(node)

    def _use(self, identifier: str) -> None:
        identifier = identifier.rpartition(".")[2]
        self._into.used.add(identifier)
        self.runs_by_path |= identifier in _RUNS_BY_PATH
        self.reads_entry_points |= identifier == _READS_ENTRY_POINTS

    def _text(self, text: str) -> None:
        for name in _NAME_IN_TEXT.findall(text):
            self._into.names.update((name, f"{name}.__main__"))


@cache
def _reads(path: Path) -> _Reads:
    return _Reads(path)


def _module_file(directory: Path, part: str) -> Path | None:
    """``part``'s package ``__init__`` or module file inside ``directory``, if there is one."""
    for candidate in (directory / part / "__init__.py", directory / f"{part}.py"):
        if candidate.is_file():
            return candidate
    return None


class PipecatDependence:
    """Decides, file by file and with a cache, which test files depend on Pipecat."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()
        self._known: dict[Path, bool] = {}
        self._this_file = Path(__file__).resolve()

    def depends(self, test_file: Path) -> bool:
        """Whether Pipecat is reachable from ``test_file``, its conftests or the pytest plugin."""
        test_file = test_file.resolve()
        if test_file not in self._known:
            self._known[test_file] = self.why(test_file) is not None
        return self._known[test_file]

    def why(self, test_file: Path) -> list[str] | None:
        """The chain of files from ``test_file`` (or a conftest) to Pipecat; ``None`` if none."""
        test_file = test_file.resolve()
        start = [test_file, *self._conftests(test_file), *self._files(_PLUGIN)]
        came_from: dict[Path, Path | None] = dict.fromkeys(start)
        todo = [(path, None) for path in start if path != self._this_file]
        used: set[str] = set()
        used_by_tests: set[str] = set()
        star = False
        waiting: list[tuple[Path, _Code]] = []
        while todo or waiting:
            if not todo:
                woken = [
                    (path, code)
                    for path, code in waiting
                    if star or code.served & (used_by_tests if code.by_tests else used)
                ]
                if not woken:
                    return None
                waiting = [entry for entry in waiting if entry not in woken]
                todo = woken
            path, code = todo.pop(0)
            reads = _reads(path)
            if code is None:  # the file's first visit: its top level runs
                code = reads.top
                waiting += [(path, function) for function in reads.functions]
                if reads.runs_by_path:
                    return self._chain(path, "(runs Python code by path)", came_from)
            used |= code.used
            star |= code.star
            if not reads.package_code:
                used_by_tests |= code.used
            pipecat = sorted(name for name in code.names if name.split(".")[0] == "pipecat")
            if pipecat:
                return self._chain(path, pipecat[0], came_from)
            for module in self._followed(reads, code):
                if module not in came_from and module != self._this_file:
                    came_from[module] = path
                    todo.append((module, None))
        return None

    @staticmethod
    def _chain(path: Path, reason: str, came_from: dict[Path, Path | None]) -> list[str]:
        chain = [reason]
        step: Path | None = path
        while step is not None:
            chain.append(str(step))
            step = came_from[step]
        return chain[::-1]

    def _conftests(self, test_file: Path) -> Iterator[Path]:
        directory = test_file.parent
        while directory == self._root or self._root in directory.parents:
            if (directory / "conftest.py").is_file():
                yield directory / "conftest.py"
            directory = directory.parent

    def _followed(self, reads: _Reads, code: _Code) -> list[Path]:
        names = set(code.names)
        if reads.reads_entry_points:
            names.update(_entry_point_modules())
        found = [
            f.resolve() for p in code.relative if (f := _module_file(p.parent, p.name)) is not None
        ]
        for name in names:
            found += self._files(name)
        return found

    def _files(self, name: str) -> list[Path]:
        """The files importing ``name`` runs (each package's ``__init__`` on the way), if ours."""
        return list(_files(self._root, name))


@cache
def _files(root: Path, name: str) -> tuple[Path, ...]:
    top, *rest = name.split(".")
    directories = _top_directories(root, top)
    files: list[Path] = []
    for part in [top, *rest]:
        found = next((f for d in directories if (f := _module_file(d, part)) is not None), None)
        if found is None:
            break
        files.append(found.resolve())
        directories = [found.parent] if found.name == "__init__.py" else []
    return tuple(files)


def _top_directories(root: Path, top: str) -> list[Path]:
    """Where the top-level module ``top`` is found, when it is one of ours; else nothing."""
    if top in FIRST_PARTY:
        spec = importlib.util.find_spec(top)
        if spec is not None and spec.submodule_search_locations is not None:
            return [Path(location).parent for location in spec.submodule_search_locations]
        return []
    return [root] if _module_file(root, top) is not None else []


@cache
def _entry_point_modules() -> tuple[str, ...]:
    """The modules of every installed entry point in an ``imagegen`` group (the backends)."""
    return tuple(
        point.module
        for group in entry_points().groups
        if group.startswith("imagegen")
        for point in entry_points(group=group)
    )


def forbid_pipecat_imports() -> None:
    """Make every later import of Pipecat fail the test that makes it.

    For a run of only the test files this module says do not reach Pipecat
    (``--pipecat-tests=none``, in the `nopipecat` session): a file it misjudged
    fails there, so a rule that rots shows instead of silently shrinking what
    the compat sessions test. Pipecat must not be imported yet.
    """
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "pipecat")
    if loaded:
        raise pytest.UsageError(f"Pipecat is imported before the tests start: {loaded}")
    sys.meta_path.insert(0, _PipecatForbidden())


class _PipecatForbidden(importlib.abc.MetaPathFinder):
    """Fails the test that imports Pipecat.

    ``pytest.fail`` raises a ``BaseException``, so neither ``importorskip``
    nor an ``except ImportError`` (nor ``except Exception``) hides the import.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Fail on Pipecat; leave every other module to the usual finders."""
        if fullname.split(".")[0] == "pipecat":
            pytest.fail(
                f"imported {fullname} in a test file that pipecat_selection.py says does not "
                "reach Pipecat, so the compat sessions skip it: correct the rule there"
            )
        return None
