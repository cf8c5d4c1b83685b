"""docs/writing-a-backend.md works as written: its files make a backend that records and replays.

The guide promises a third-party author that copying its blocks in order into
a fresh project gives a backend imagegen discovers, whose conformance tests
skip until recorded, record against the emulator with one command, and then
replay offline. This test does exactly that with the blocks that name a file,
in a pytester directory, written and "installed" (a ``.dist-info`` directory
next to its sources) by the root conftest.py's ``doc_project`` fixture, which
the test of the docs' CLI lines uses too.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pytest

# Imported by this (outer) process on purpose: pytester's in-process runs drop
# the modules they import, and some cannot be imported twice in one process
# (PyYAML's C extension no longer recognises its own node classes; numpy, which
# Pipecat imports, refuses). The cassettes are read with yaml below as well.
import yaml

# numpy (which Pipecat imports) likewise: loaded once, here, for every run below;
# without Pipecat the tests that need it skip.
with contextlib.suppress(ImportError):
    import pipecat.frames.frames  # noqa: F401

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "writing-a-backend.md"
_PYTHON_BLOCK = re.compile(r"```python\n(?P<body>.*?)```", re.S)


@pytest.fixture
def acme(
    suite_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, doc_project: Any
) -> pytest.Pytester:
    pytest.importorskip("pipecat.frames.frames")  # see the note on the imports
    # The guide's ReplicateProvider records live when a token is set; this test never may.
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    monkeypatch.delenv("IMAGEGEN_RECORD_LIVE", raising=False)
    project = doc_project(GUIDE, suite_pytester.path)  # the root conftest.py's fixture
    assert set(project.sources) == {
        "src/acme_imagegen/backend.py",
        "src/acme_imagegen/plugin.py",
        "src/acme_imagegen/instant.py",
        "src/acme_imagegen/instant_plugin.py",
        "tests/test_conformance.py",
        "tests/test_instant_conformance.py",
    }
    ini = project.pyproject["tool"]["pytest"]["ini_options"]
    suite_pytester.makeini(
        "[pytest]\n" + "".join(f"{key} = {value}\n" for key, value in ini.items())
    )
    suite_pytester.syspathinsert(project.src)
    return suite_pytester


def test_the_guides_backend_skips_records_then_replays_offline(acme: pytest.Pytester) -> None:
    test_file = "tests/test_conformance.py"
    fresh = acme.runpytest_inprocess("-p", "no:cacheprovider", "-rs", test_file)
    fresh.assert_outcomes(passed=10, skipped=10)
    fresh.stdout.fnmatch_lines(["timeout: 120.0s"])  # the guide's pytest timeout is in force
    fresh.stdout.fnmatch_lines(
        [
            "SKIPPED*no cassette test_generate_one.yaml in tests?cassettes; record it with: "
            f"python -m pytest {test_file}::TestAcmeConformance::test_generate_one "
            "--record-mode=once"
        ]
    )

    recorded = acme.runpytest_inprocess("-p", "no:cacheprovider", test_file, "--record-mode=once")
    recorded.assert_outcomes(passed=18, skipped=2)  # text only, no progress
    cassettes = sorted((acme.path / "tests" / "cassettes").glob("*.yaml"))
    assert len(cassettes) == 8
    for cassette in cassettes:
        for interaction in yaml.safe_load(cassette.read_text())["interactions"]:
            assert interaction["request"]["uri"].startswith(
                ("https://api.replicate.com/v1/", "https://replicate.delivery/")
            ), f"{cassette.name}: {interaction['request']['uri']}"

    replayed = acme.runpytest_inprocess("-p", "no:cacheprovider", test_file, "--block-network")
    replayed.assert_outcomes(passed=18, skipped=2)


def test_the_guides_one_request_backend_passes_from_its_fake_server(acme: pytest.Pytester) -> None:
    test_file = "tests/test_instant_conformance.py"
    fresh = acme.runpytest_inprocess("-p", "no:cacheprovider", test_file)
    fresh.assert_outcomes(passed=11, skipped=9)

    recorded = acme.runpytest_inprocess("-p", "no:cacheprovider", test_file, "--record-mode=once")
    recorded.assert_outcomes(passed=18, skipped=2)  # text only, no progress
    cassettes = sorted((acme.path / "tests" / "cassettes" / "instant").glob("*.yaml"))
    assert [c.name for c in cassettes if c.name == "test_cancellation.yaml"] == []
    assert len(cassettes) == 7
    for cassette in cassettes:
        text = cassette.read_text()
        assert "127.0.0.1" not in text, cassette.name
        assert "instant-fake-key-0000" not in text, cassette.name
        for interaction in yaml.safe_load(text)["interactions"]:
            assert interaction["request"]["uri"].startswith("https://instant.acme.example/v1/")

    # The cancellation test holds a request open on the loopback fake: allowed.
    replayed = acme.runpytest_inprocess("-p", "no:cacheprovider", test_file, "--block-network")
    replayed.assert_outcomes(passed=18, skipped=2)


# mypy --strict from an empty cache (each new environment, and floors' older
# mypy, start one) checks the core and pydantic too: in `floors` beside a
# second xdist worker on a loaded two-core machine it ran past the suite's
# 120 s hang guard. This is a guard against a hang, not a timing assertion.
@pytest.mark.timeout(600)
def test_the_guides_files_and_opt_out_pass_mypy_strict(
    acme: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    mypy = pytest.importorskip("mypy.api")
    monkeypatch.chdir(acme.path)
    monkeypatch.setenv("MYPYPATH", "src")  # as an installed src-layout package resolves
    guide = GUIDE.read_text(encoding="utf-8")
    [opt_out] = [
        b["body"]
        for b in _PYTHON_BLOCK.finditer(guide)
        if "@pytest.mark.xfail(reason=" in b["body"]
    ]
    (acme.path / "tests" / "test_opt_out.py").write_text(opt_out, encoding="utf-8")
    cache = GUIDE.parents[1] / ".mypy_cache" / "writing-a-backend-guide"
    out, err, status = mypy.run(
        ["--strict", "--cache-dir", str(cache), "--explicit-package-bases", "src", "tests"]
    )
    assert status == 0, out + err


def test_the_guide_shows_the_commands_this_test_runs() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    assert "uv run pytest tests/test_conformance.py --record-mode=once" in guide
    assert "uv run pytest tests/test_conformance.py --block-network" in guide
    assert "9 passed, 8 skipped" in guide
    assert "uv run pytest tests/test_instant_conformance.py --block-network" in guide
    assert "10 passed, 7 skipped" in guide
