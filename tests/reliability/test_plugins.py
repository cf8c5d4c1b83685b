"""Each kind of broken plugin beside a good one: reported, skipped, refused in strict mode."""

from __future__ import annotations

import pytest

from reliability.figures import Figure
from reliability.plugins import run_plugins

from ._promises import assert_holds, run_section


@pytest.fixture(scope="module")
def figures() -> dict[str, Figure]:
    return run_section(run_plugins)


@pytest.mark.parametrize(
    "name",
    [
        "listing died",
        "broken plugin not reported",
        "good plugin not usable",
        "strict mode did not refuse it",
        "CLI listing or --strict not as expected",
    ],
)
def test_plugin_promise_holds(figures: dict[str, Figure], name: str) -> None:
    assert_holds(figures[name])
