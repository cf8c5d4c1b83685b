"""``imagegen --version``: the core's version and every installed backend's, none imported."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from typing import Any

import pytest

import imagegen_core
from imagegen_core.cli import main
from imagegen_core.plugins import TEST_ENTRY_POINT_GROUP


def _version_output(capsys: pytest.CaptureFixture[str]) -> list[str]:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    return capsys.readouterr().out.splitlines()


def test_the_first_line_is_the_core_version_and_matches_the_installed_metadata(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = _version_output(capsys)
    assert lines[0] == f"imagegen-core {imagegen_core.__version__}"
    # One version source: what hatch wrote into the metadata is __version__.
    assert version("imagegen-core") == imagegen_core.__version__


def test_each_distribution_with_backends_is_listed_with_its_version_and_names(
    plugins: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    plugins.install("alpha", distribution="acme-images", version="2.3.1")
    plugins.install("beta", distribution="acme-images", version="2.3.1")
    plugins.install(
        "double", distribution="acme-images", version="2.3.1", group=TEST_ENTRY_POINT_GROUP
    )
    lines = _version_output(capsys)
    assert "acme-images 2.3.1 (backend: alpha, beta; test backend: double)" in lines
    # The packages of this repository, installed in the test environment.
    assert f"imagegen-replicate {version('imagegen-replicate')} (backend: replicate)" in lines
    assert f"imagegen-testing {version('imagegen-testing')} (test backend: fake)" in lines


def test_a_broken_plugin_is_listed_without_being_imported(
    plugins: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = plugins.install("broken", "raise RuntimeError('imported')", version="0.9")
    lines = _version_output(capsys)
    assert f"{broken.distribution} 0.9 (backend: broken)" in lines
    assert broken.module not in sys.modules


def test_no_command_is_needed_and_the_console_script_prints_it() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "imagegen_core", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(f"imagegen-core {imagegen_core.__version__}\n")
