"""The canary token, through echoing providers (Replicate, OpenAI), a soak and the bad inputs,
is found nowhere."""

from __future__ import annotations

import pytest

from reliability import evidence
from reliability.bad_input import CASES, run_bad_input
from reliability.figures import Figure
from reliability.secrets import run_echo_scenario, run_openai_echo_scenario, secret_figures
from reliability.soak import SoakPlan, run_soak

from ._promises import assert_holds, promises, run_section

PROMISES = [
    "canary in logs",
    "canary in error frames",
    "canary in exception chains",
    "canary in reprs",
    "canary in files written",
    "canary in os.environ",
]
WAITING: dict[str, int] = {}


async def _everything() -> list[Figure]:
    with evidence.collecting() as found:
        await run_echo_scenario()
        await run_openai_echo_scenario()
        await run_soak(SoakPlan(prompts=24, pipelines=4))
        await run_bad_input([case for case in CASES if case.constructs or case.faults])
    return secret_figures(found)


@pytest.fixture(scope="module")
def figures() -> dict[str, Figure]:
    return run_section(_everything)


@pytest.mark.parametrize("name", promises(PROMISES, WAITING))
def test_secret_promise_holds(figures: dict[str, Figure], name: str) -> None:
    assert_holds(figures[name])


def test_there_was_something_to_search(figures: dict[str, Figure]) -> None:
    assert figures["log records searched (TRACE)"].value > 100
    assert figures["error frames searched"].value > 10
    assert figures["exceptions searched (chains, frame locals)"].value > 10
    assert figures["files searched"].value > 0


def test_the_search_finds_a_planted_canary() -> None:
    # The search itself works: a canary planted in each place is found there.
    planted = "r8_PlantedCanaryForTheSearchItself000"
    with evidence.collecting() as found:
        import logging

        logging.getLogger("imagegen").debug("token %s", planted)
        try:
            secret = planted  # a frame local
            raise RuntimeError("no token in the message")
        except RuntimeError as error:
            wrapped = ValueError("wrapped")
            wrapped.__context__ = error
            evidence.keep(wrapped)
        evidence.keep_repr(type("Leaky", (), {"__repr__": lambda self: planted})())
        del secret
    shown = {f.name: f.value for f in secret_figures(found, planted)}
    assert shown["canary in logs"] == 1
    assert shown["canary in exception chains"] == 1
    assert shown["canary in reprs"] == 1
