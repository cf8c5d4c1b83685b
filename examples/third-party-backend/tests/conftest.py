"""Test settings for the whole package."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _offline_pipecat(imagegen_offline_nltk: object) -> None:
    """Pipecat before 1.12 downloads NLTK data when a pipeline starts; tests stay offline."""
