"""Re-recording unchanged traffic leaves every cassette byte-identical.

The emulators run seeded, with a stepping clock, whenever the suite records
against them, so ids, delivery keys, timestamps, metrics, ``Date`` and
rate-limit headers repeat. A maintainer who records the cassettes again then
sees in the diff only what really changed. Both emulator-recorded cassette
sets are recorded twice here, into a temporary folder, and compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Four conformance runs in fresh interpreters: minutes on a loaded machine.
pytestmark = pytest.mark.timeout(900)

CONFORMANCE_MODULE = """
from pathlib import Path

from imagegen_testing.conformance import (
    BackendConformance, OpenAICassettes, OpenAIProvider, ReplicateCassettes, ReplicateProvider,
)

HERE = Path(__file__).parent


class TestReplicate(ReplicateCassettes, BackendConformance):
    cassette_dir = HERE / "cassettes" / "replicate"

    def live_provider(self):
        return ReplicateProvider(environ={})


class TestOpenAI(OpenAICassettes, BackendConformance):
    cassette_dir = HERE / "cassettes" / "openai"

    def live_provider(self):
        return OpenAIProvider(environ={})
"""


PROVIDERS = ("replicate", "openai")
Recording = dict[str, dict[str, bytes]]
"""Cassette bytes by provider folder, then by file name."""


def _record(project: Path) -> Recording:
    """Run the conformance module above with ``--record-mode=rewrite`` in a fresh interpreter."""
    # A fresh interpreter each time: a second in-process run would re-import
    # numpy and the yaml emitter, which neither allows.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--record-mode=rewrite"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "REPLICATE_API_TOKEN": "", "OPENAI_API_KEY": ""},
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    recording = {
        provider: {
            path.name: path.read_bytes()
            for path in sorted((project / "cassettes" / provider).glob("*.yaml"))
        }
        for provider in PROVIDERS
    }
    assert all(recording.values()), f"nothing recorded: {recording.keys()}"
    return recording


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, Recording]:
    """The same conformance run recorded twice."""
    project = tmp_path_factory.mktemp("rerecording")
    (project / "test_conformance.py").write_text(CONFORMANCE_MODULE)
    (project / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return _record(project), _record(project)


def test_recording_twice_writes_the_same_bytes(recordings: tuple[Recording, Recording]) -> None:
    first, second = recordings
    for provider in PROVIDERS:
        assert first[provider].keys() == second[provider].keys()
        changed = sorted(
            name for name, data in first[provider].items() if second[provider][name] != data
        )
        assert changed == [], (
            f"re-recording the same {provider} traffic changed {changed}:\n"
            + _first_difference(first[provider][changed[0]], second[provider][changed[0]])
        )


def _first_difference(before: bytes, after: bytes) -> str:
    pairs = zip(before.decode().splitlines(), after.decode().splitlines(), strict=False)
    for number, (old, new) in enumerate(pairs, start=1):
        if old != new:
            return f"line {number}: {old!r} became {new!r}"
    return "one recording is longer than the other"
