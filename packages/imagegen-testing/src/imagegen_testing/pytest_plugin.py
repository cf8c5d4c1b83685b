"""imagegen's pytest plugin (entry point ``pytest11: imagegen``).

Loaded into every pytest run of a project that installs imagegen-testing, so
it must cost nothing: it imports only pytest, never the conformance suite,
the backends, aiohttp or Pipecat. Its jobs:

* register :mod:`imagegen_testing.conformance` for assertion rewriting before
  any test module imports it, so the standard tests' ``assert`` statements
  explain their failures (pytest only rewrites test modules and conftests on
  its own; an editable install is not rewritten as a plugin either);
* register the ``imagegen_scenario`` marker the standard tests carry, so
  ``--strict-markers`` accepts them;
* fail every test of a conformance class whose guard test was tampered with,
  because a guard that can be overridden guards nothing;
* remember each test's phase reports (:func:`passed`), so a cassette
  recorded by a test that failed is not kept;
* offer ``--imagegen-require-cassettes`` (ini ``imagegen_require_cassettes``),
  which turns a missing cassette from a skip into a failure: once a backend's
  recordings are in its repository, a test that quietly stops replaying is a
  hole in its CI, not a to-do;
* offer ``imagegen_offline_nltk``, which keeps Pipecat < 1.12 from downloading
  NLTK data when a pipeline starts (see :mod:`imagegen_testing.pipecat_offline`).
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("imagegen_testing.conformance")

_SUITE_MODULE = "imagegen_testing.conformance.suite"
_PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, for fixtures that act on the outcome."""
    report = yield
    item.stash.setdefault(_PHASE_REPORTS, {})[report.when] = report
    return report


def passed(item: pytest.Item) -> bool:
    """Whether ``item``'s setup and call both passed (readable from fixture teardown)."""
    reports = item.stash.get(_PHASE_REPORTS, {})
    return all(
        phase in reports and reports[phase].passed and not hasattr(reports[phase], "wasxfail")
        for phase in ("setup", "call")
    )


REQUIRE_CASSETTES = "imagegen_require_cassettes"
"""The ini name (and, with dashes and ``--``, the option) that makes a missing cassette fail."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--imagegen-require-cassettes`` and its ini twin."""
    help_text = (
        "fail, instead of skip, a network-bound imagegen conformance test whose "
        "cassette is missing (for a CI whose recordings are committed)"
    )
    parser.addoption(
        "--imagegen-require-cassettes", action="store_true", dest=REQUIRE_CASSETTES, help=help_text
    )
    parser.addini(REQUIRE_CASSETTES, help_text, type="bool", default=False)


def cassettes_required(config: pytest.Config) -> bool:
    """Whether a missing cassette fails its test (the option, or the ini setting)."""
    return bool(config.getoption(REQUIRE_CASSETTES) or config.getini(REQUIRE_CASSETTES))


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker the standard tests use."""
    config.addinivalue_line(
        "markers",
        "imagegen_scenario(name): the provider situation a network-bound imagegen "
        "conformance test records and replays (see imagegen_testing.conformance.Scenario)",
    )


@pytest.fixture(autouse=True)
def _imagegen_guard_intact(request: pytest.FixtureRequest) -> None:
    """Fail conformance tests whose class overrode or removed the guard test itself.

    The guard test checks the other standard tests; this fixture checks the
    guard, from outside the class where a subclass cannot reach it.
    """
    suite = sys.modules.get(_SUITE_MODULE)
    cls: Any = request.cls
    if suite is None or cls is None:
        return
    base = suite.BackendConformance
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return
    from imagegen_testing.conformance.guard import GUARD_NAME

    if getattr(cls, GUARD_NAME, None) is not getattr(base, GUARD_NAME):
        pytest.fail(
            f"{cls.__name__} overrides or removes {GUARD_NAME}; the conformance guard "
            "cannot be opted out of",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def imagegen_offline_nltk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A stand-in for NLTK's ``punkt_tab`` so old Pipecat releases start pipelines offline.

    Request it (or make it autouse in a ``conftest.py``) in test sessions that
    run Pipecat pipelines; the conformance suite's Pipecat test requests it.
    """
    from imagegen_testing.pipecat_offline import offline_nltk

    with offline_nltk(tmp_path_factory.mktemp("nltk_data")) as directory:
        yield directory
