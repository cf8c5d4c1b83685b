"""The pytest11 plugin: cheap to load, Pipecat-free, and rewriting the conformance asserts."""

import json
import subprocess
import sys

import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook

HEAVY = ("pipecat", "imagegen_core", "imagegen_replicate", "aiohttp", "vcr", "PIL", "pydantic")


def _imported_after(statement: str) -> set[str]:
    code = (
        "import sys, json; before = set(sys.modules); "
        f"{statement}; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    result = subprocess.run(  # noqa: S603  (our own interpreter, our own code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout))


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    imported = _imported_after("import imagegen_testing.pytest_plugin")
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


@pytest.mark.parametrize(
    "module", ["imagegen_testing", "imagegen_testing.conformance", "imagegen_testing.vcr"]
)
def test_importing_the_testing_kit_does_not_import_pipecat(module: str) -> None:
    assert "pipecat" not in _imported_after(f"import {module}")


def test_conformance_modules_are_assertion_rewritten() -> None:
    from imagegen_testing.conformance import checks, suite

    for module in (suite, checks):
        assert isinstance(module.__loader__, AssertionRewritingHook), module.__name__


def test_the_scenario_marker_is_declared(pytestconfig: pytest.Config) -> None:
    assert any(line.startswith("imagegen_scenario") for line in pytestconfig.getini("markers"))


def test_plugin_is_registered_under_its_entry_point_name(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("imagegen")
    assert plugin is not None
    assert plugin.__name__ == "imagegen_testing.pytest_plugin"
