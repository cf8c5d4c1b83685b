"""The soak at small counts: every prompt one outcome, nothing leaked, every fault kind injected."""

from __future__ import annotations

import pytest

from reliability.figures import Figure
from reliability.soak import SoakPlan, run_soak

from ._promises import assert_holds, promises, run_section

PLAN = SoakPlan(prompts=60, pipelines=8)
PROMISES = [
    "prompts",
    "prompts with no outcome",
    "prompts with more than one",
    "uncategorized errors",
    "leaked tasks",
    "leaked connections",
    "predictions running at the end",
]


@pytest.fixture(scope="module")
def figures() -> dict[str, Figure]:
    return run_section(lambda: run_soak(PLAN))


@pytest.mark.parametrize("name", promises(PROMISES, {}))
def test_soak_promise_holds(figures: dict[str, Figure], name: str) -> None:
    assert_holds(figures[name])


def test_every_promise_of_the_section_is_tested(figures: dict[str, Figure]) -> None:
    assert {f.name for f in figures.values() if f.expected is not None} == set(PROMISES)


def test_faults_were_injected_and_some_recovered(figures: dict[str, Figure]) -> None:
    # Without faults the promises above would hold trivially.
    assert figures["faulted requests"].value > 5
    assert figures["error outcomes"].value > 0
    assert figures["images"].value > 0
