"""call_with_retries: a plain await first, tenacity only after a failure worth retrying."""

from __future__ import annotations

import pytest
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from imagegen_core.http import call_with_retries


class Flaky(Exception):
    pass


class Fatal(Exception):
    pass


class Calls:
    """An attempt that fails with the given errors, in order, then returns "ok"."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.count = 0

    async def __call__(self) -> str:
        self.count += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def policy(log: list[tuple[int, str]], spent: list[float], attempts: int = 3):
    def before_sleep(state: RetryCallState) -> None:
        assert state.outcome is not None
        log.append((state.attempt_number, str(state.outcome.exception())))

    def build(seconds: float) -> AsyncRetrying:
        spent.append(seconds)
        return AsyncRetrying(
            stop=stop_after_attempt(attempts),
            retry=retry_if_exception_type(Flaky),
            wait=lambda state: 0.0,
            before_sleep=before_sleep,
            reraise=True,
        )

    return build


async def test_a_first_attempt_that_succeeds_never_builds_the_policy() -> None:
    spent: list[float] = []
    call = Calls()
    result = await call_with_retries(
        call, should_retry=lambda exc: True, retrying=policy([], spent)
    )
    assert (result, call.count, spent) == ("ok", 1, [])


async def test_a_first_failure_not_worth_retrying_is_raised_as_it_is() -> None:
    spent: list[float] = []
    error = Fatal("no")
    call = Calls(error)
    with pytest.raises(Fatal) as raised:
        await call_with_retries(
            call, should_retry=lambda exc: isinstance(exc, Flaky), retrying=policy([], spent)
        )
    assert raised.value is error
    assert (call.count, spent) == (1, [])


async def test_the_first_failure_is_the_policys_first_attempt() -> None:
    log: list[tuple[int, str]] = []
    spent: list[float] = []
    call = Calls(Flaky("one"), Flaky("two"))
    result = await call_with_retries(
        call, should_retry=lambda exc: isinstance(exc, Flaky), retrying=policy(log, spent)
    )
    assert result == "ok"
    assert call.count == 3  # three attempts in all, as the policy allows, not four
    assert log == [(1, "one"), (2, "two")]
    assert len(spent) == 1
    assert spent[0] >= 0


async def test_the_policys_stop_counts_the_first_attempt() -> None:
    call = Calls(Flaky("one"), Flaky("two"), Flaky("three"))
    with pytest.raises(Flaky, match="two"):
        await call_with_retries(
            call,
            should_retry=lambda exc: isinstance(exc, Flaky),
            retrying=policy([], [], attempts=2),
        )
    assert call.count == 2
