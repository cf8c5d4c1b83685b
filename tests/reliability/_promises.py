"""Running a reliability section once per test module, and asserting its promises one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import pytest

from reliability.figures import Figure


def run_section(section: Callable[[], Awaitable[list[Figure]]]) -> dict[str, Figure]:
    """Run ``section`` in an event loop of its own; return its figures by name."""
    return {figure.name: figure for figure in asyncio.run(section())}  # type: ignore[arg-type]


def promises(names: Iterable[str], waiting: Mapping[str, int]) -> list[Any]:
    """Test parameters for the promise figures ``names``; those in ``waiting`` are strict
    xfails naming the issue-9 point whose fix they wait for."""
    return [
        pytest.param(
            name,
            marks=pytest.mark.xfail(strict=True, reason=f"issue 9 point {waiting[name]}"),
        )
        if name in waiting
        else name
        for name in names
    ]


def assert_holds(figure: Figure) -> None:
    """The figure's promise holds (it says what it measured when not)."""
    assert figure.expected is not None, f"{figure.name} is a measurement, not a promise"
    assert figure.held, (
        f"{figure.section}: {figure.name} = {figure.shown()}, must be {figure.expected}"
    )
