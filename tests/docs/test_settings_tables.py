"""Each settings table in the docs lists exactly the fields of the model it documents.

A maintainer who adds, renames or removes a setting is told here which page's
table must change. A table is found by the page, the section it sits under
and its header row; its rows name fields in backticks in the first column
(one or several per row: ``| `a`, `b` | ...``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _pydantic_fields(import_model: Callable[[], type]) -> Callable[[], set[str]]:
    return lambda: set(import_model().model_fields)  # type: ignore[attr-defined]


def _dataclass_fields(import_model: Callable[[], type]) -> Callable[[], set[str]]:
    return lambda: {item.name for item in dataclasses.fields(import_model())}


def _replicate_settings() -> type:
    from imagegen_replicate import ReplicateSettings

    return ReplicateSettings


def _openai_settings() -> type:
    from imagegen_openai import OpenAISettings

    return OpenAISettings


def _fake_settings() -> type:
    from imagegen_testing.fake import FakeSettings

    return FakeSettings


def _service_settings() -> type:
    from imagegen_core.pipecat import BackendImageGenSettings

    return BackendImageGenSettings


def _replicate_service_settings() -> type:
    from imagegen_replicate import ReplicateImageGenService

    return ReplicateImageGenService.Settings


# (page, section heading, header row's first cell, the fields the table must list)
TABLES = {
    "ReplicateSettings": (
        "replicate.md",
        "## Backend settings",
        "setting",
        _pydantic_fields(_replicate_settings),
    ),
    "OpenAISettings": ("openai.md", "## Settings", "setting", _pydantic_fields(_openai_settings)),
    "FakeSettings": (
        "testing.md",
        "## A pipeline test with the fake backend",
        "setting",
        _pydantic_fields(_fake_settings),
    ),
    "BackendImageGenService.Settings": (
        "pipecat-service.md",
        "### Settings",
        "field",
        _dataclass_fields(_service_settings),
    ),
    "ReplicateImageGenService.Settings": (
        "replicate.md",
        "## `ReplicateImageGenService`",
        "field",
        _dataclass_fields(_replicate_service_settings),
    ),
}


def table_names(page: str, section: str, first_header: str) -> set[str]:
    """The backticked names in the first column of the table under ``section``."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    start = lines.index(section)
    level = section.split(" ", 1)[0]
    names: set[str] = set()
    in_table = in_code = False
    for line in lines[start + 1 :]:
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        if line.startswith("#") and line.split(" ", 1)[0] <= level and not in_table:
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not in_table:
            in_table = line.startswith("|") and cells[0] == first_header
            continue
        if not line.startswith("|"):
            break
        if set(cells[0]) <= {"-", " "}:
            continue
        names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0]))
    assert in_table, f"docs/{page}: no table headed {first_header!r} under {section!r}"
    return names


@pytest.mark.parametrize("model", list(TABLES))
def test_the_settings_table_matches_the_model(model: str) -> None:
    page, section, first_header, fields = TABLES[model]
    documented = table_names(page, section, first_header)
    actual = fields()
    assert not actual - documented, (
        f"docs/{page} ({section}) has no row for {model} field(s) {sorted(actual - documented)}"
    )
    assert not documented - actual, (
        f"docs/{page} ({section}) documents {sorted(documented - actual)}, "
        f"which {model} does not have"
    )
