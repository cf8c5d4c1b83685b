"""Keeping Pipecat's NLTK download out of offline test runs.

Pipecat releases before 1.12 make sure NLTK's ``punkt_tab`` tokenizer data is
present when a pipeline starts (0.0.108 already when ``pipecat.tests.utils``
is imported) and download it from the internet when it is not. Tests must not
touch the internet, and image pipelines never tokenize text, so an empty
stand-in directory on NLTK's search path satisfies the check without a
download. Used by the ``imagegen_offline_nltk`` fixture of the pytest plugin.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["offline_nltk"]


@contextmanager
def offline_nltk(directory: Path) -> Iterator[Path]:
    """Point NLTK at a stand-in ``punkt_tab`` under ``directory`` for the duration.

    Sets ``NLTK_DATA`` (read when NLTK is first imported) and, when NLTK is
    already imported, prepends the directory to ``nltk.data.path``; both are
    restored afterwards.
    """
    (directory / "tokenizers" / "punkt_tab").mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NLTK_DATA", str(directory))
        nltk = sys.modules.get("nltk")
        if nltk is not None:
            patch.setattr(nltk.data, "path", [str(directory), *nltk.data.path])
        yield directory
