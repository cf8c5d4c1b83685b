"""Settings for every test in this repository (each package's tests inherit it)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _offline_pipecat(imagegen_offline_nltk: object) -> None:
    """Apply imagegen-testing's offline NLTK stand-in to the whole session.

    Our suites start Pipecat pipelines under every release in the compat
    matrix; releases before 1.9 would try to download NLTK data when they do.
    """
