"""Packaging promises: no Pipecat on import, the entry point, the lazy service name."""

from __future__ import annotations

import subprocess
import sys

import imagegen_replicate
from imagegen_replicate import ReplicateBackend


def test_import_does_not_import_pipecat() -> None:
    code = (
        "import sys, imagegen_replicate, imagegen_replicate.plugin;"
        "from imagegen_replicate import ReplicateBackend, ReplicateSettings;"
        "ReplicateBackend().capabilities;"
        "bad = sorted(m for m in sys.modules if m == 'pipecat' or m.startswith('pipecat.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_entry_point_selects_the_backend() -> None:
    from imagegen_core.plugins import load_backend_class

    assert load_backend_class("replicate") is ReplicateBackend
    assert ReplicateBackend.name == "replicate"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        imagegen_replicate.Nope  # noqa: B018
