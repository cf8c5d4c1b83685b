"""Cassettes shipped with imagegen-testing, one directory per backend.

They are package data, so a backend's conformance tests replay them from an
installed wheel as well as from a checkout::

    from imagegen_testing.cassettes import cassette_dir

    class TestReplicateConformance(BackendConformance):
        cassette_dir = cassette_dir("replicate")
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CASSETTES_ROOT", "cassette_dir", "shipped_cassettes"]

CASSETTES_ROOT = Path(__file__).resolve().parent
"""The directory holding one sub-directory of cassettes per backend."""


def cassette_dir(backend: str) -> Path:
    """The directory of a backend's shipped cassettes (it may not exist yet).

    Raises:
        ValueError: ``backend`` is not a plain directory name.
    """
    if not backend or Path(backend).name != backend or backend.startswith("."):
        raise ValueError(f"not a backend name: {backend!r}")
    return CASSETTES_ROOT / backend


def shipped_cassettes() -> list[Path]:
    """Every shipped cassette file, for scans that must cover all of them."""
    return sorted(p for p in CASSETTES_ROOT.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})
