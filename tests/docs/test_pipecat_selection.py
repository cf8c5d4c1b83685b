"""pipecat_selection.py marks the test files that reach Pipecat, and only those.

The `compat` sessions run just the marked files, so a rule that marked too
little would quietly test less; one that marked everything would save
nothing. Each case below is a way a test reaches Pipecat (or seems to and
does not), checked on files written for the case and on the real suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipecat_selection import PipecatDependence

ROOT = Path(__file__).resolve().parents[2]

REACHES = {
    "the service layer": "from imagegen_core.pipecat import BackendImageGenService\n",
    "a service module": "import imagegen_replicate.pipecat_service\n",
    "a lazy attribute of a backend package": (
        "from imagegen_replicate import ReplicateImageGenService\n"
    ),
    "an import inside a test": "def test_x():\n    from pipecat.frames.frames import TextFrame\n",
    "an import by name": (
        "import importlib\n\ndef test_x():\n    importlib.import_module('pipecat.frames')\n"
    ),
    "code for a child interpreter": (
        "import subprocess, sys\n\ndef test_x():\n"
        "    subprocess.run([sys.executable, '-c', 'import imagegen_core.pipecat'])\n"
    ),
    "the conformance suite (its Pipecat round trip)": (
        "from imagegen_testing.conformance import BackendConformance\n\n"
        "class TestMine(BackendConformance):\n    pass\n"
    ),
    "a script run by path": (
        "import importlib.util\n\n"
        "spec = importlib.util.spec_from_file_location('example', 'example.py')\n"
    ),
}

DOES_NOT_REACH = {
    "a backend alone": "from imagegen_replicate import ReplicateBackend\n",
    "the core's public API": "from imagegen_core import ImageGenError, Generation\n",
    "the emulator": "from imagegen_testing.emulator import ReplicateEmulator\n",
    "an import only for the type checker": (
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import pipecat\n"
    ),
    "Pipecat named in a docstring": '"""Unlike imagegen_core.pipecat, this needs no Pipecat."""\n',
}


def _write(root: Path, name: str, code: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code, encoding="utf-8")
    return path


@pytest.mark.parametrize("code", REACHES.values(), ids=REACHES.keys())
def test_a_file_reaching_pipecat_is_marked(tmp_path: Path, code: str) -> None:
    test_file = _write(tmp_path, "test_case.py", code)
    assert PipecatDependence(tmp_path).depends(test_file)


@pytest.mark.parametrize("code", DOES_NOT_REACH.values(), ids=DOES_NOT_REACH.keys())
def test_a_file_not_reaching_pipecat_is_not_marked(tmp_path: Path, code: str) -> None:
    test_file = _write(tmp_path, "test_case.py", code)
    assert PipecatDependence(tmp_path).why(test_file) is None


def test_a_helper_imported_relatively_or_a_conftest_counts(tmp_path: Path) -> None:
    _write(tmp_path, "pkg/__init__.py", "")
    _write(tmp_path, "pkg/_helper.py", "import pipecat.frames\n")
    via_helper = _write(tmp_path, "pkg/test_helped.py", "from . import _helper\n")
    _write(
        tmp_path,
        "fixtures/conftest.py",
        "from imagegen_core.pipecat import BackendImageGenService\n",
    )
    via_conftest = _write(tmp_path, "fixtures/test_plain.py", "def test_x():\n    pass\n")
    plain = _write(tmp_path, "test_plain.py", "def test_x():\n    pass\n")
    dependence = PipecatDependence(tmp_path)
    assert dependence.depends(via_helper)
    assert dependence.depends(via_conftest)
    assert not dependence.depends(plain)


def test_the_real_suite_is_split_where_expected() -> None:
    dependence = PipecatDependence(ROOT)
    marked = [
        "packages/imagegen-core/tests/pipecat/test_service.py",
        "packages/imagegen-replicate/tests/test_pipecat_service.py",
        "packages/imagegen-openai/tests/test_pipecat_failover.py",
        "packages/imagegen-testing/tests/test_fake_conformance.py",
        "tests/reliability/test_interruptions.py",
        "packages/imagegen-replicate/tests/test_quickstart.py",
    ]
    unmarked = [
        "packages/imagegen-replicate/tests/test_wire.py",
        "packages/imagegen-core/tests/test_request.py",
        "packages/imagegen-testing/tests/emulator/test_faults.py",
        "packages/imagegen-openai/tests/test_payload.py",
    ]
    assert [path for path in marked if not dependence.depends(ROOT / path)] == []
    assert [path for path in unmarked if dependence.depends(ROOT / path)] == []
    files = sorted(ROOT.glob("packages/*/tests/**/test_*.py"))
    share = sum(dependence.depends(path) for path in files) / len(files)
    assert 0.1 < share < 0.9, share


FORBID_THEN_IMPORT = """
from pipecat_selection import forbid_pipecat_imports
forbid_pipecat_imports()
try:
    import pipecat.frames
except ImportError:
    print("swallowed")
"""


def test_forbidding_pipecat_fails_even_an_import_that_expects_failure() -> None:
    command = [sys.executable, "-c", FORBID_THEN_IMPORT]
    child = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)  # noqa: S603 - our own interpreter and code
    assert child.returncode != 0
    assert "swallowed" not in child.stdout
    assert "does not reach Pipecat" in child.stderr
