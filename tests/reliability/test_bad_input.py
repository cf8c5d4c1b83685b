"""Every named bad input, through the Pipecat service and the CLI, ends in its expected kind."""

from __future__ import annotations

import asyncio

import pytest

from reliability.bad_input import CASES, CaseResult, run_cases

# (way in, case name): the issue-9 point whose fix the case waits for.
WAITING: dict[tuple[str, str], int] = {}


@pytest.fixture(scope="module")
def results() -> tuple[dict[tuple[str, str], CaseResult], bool]:
    found, serving = asyncio.run(run_cases())
    return {(r.via, r.case.name): r for r in found}, serving


def _params() -> list[object]:
    params: list[object] = []
    for case in CASES:
        for via, applies in (("service", case.service), ("cli", case.cli is not None)):
            if not applies:
                continue
            marks = []
            if (via, case.name) in WAITING:
                point = WAITING[via, case.name]
                marks.append(pytest.mark.xfail(strict=True, reason=f"issue 9 point {point}"))
            params.append(pytest.param(via, case.name, marks=marks, id=f"{via}: {case.name}"))
    return params


@pytest.mark.parametrize(("via", "name"), _params())
def test_case_ends_in_its_expected_kind(
    results: tuple[dict[tuple[str, str], CaseResult], bool], via: str, name: str
) -> None:
    result = results[0][via, name]
    expected = result.case.expected_via(via)
    assert result.held, f"expected {expected}, got kinds {result.kinds} and {result.images} images"


def test_the_service_still_serves_after_every_bad_input(
    results: tuple[dict[tuple[str, str], CaseResult], bool],
) -> None:
    assert results[1]


def test_at_least_forty_cases_each_way(
    results: tuple[dict[tuple[str, str], CaseResult], bool],
) -> None:
    vias = [via for via, _ in results[0]]
    assert vias.count("service") >= 40
    assert vias.count("cli") >= 40
