"""Retries that cost nothing until something fails.

tenacity is the right tool for retry policies (stops, waits, predicates,
logging hooks), but its async loop does real work on every attempt, the
first included: it wraps each of its actions with ``inspect`` checks to learn
whether they are coroutines, and builds its state machine anew. Per request
that is a few percent of the event loop's time, spent on a first attempt
that, almost always, succeeds. :func:`call_with_retries` makes the first
attempt a plain ``await`` and brings tenacity in only once it has failed with
an error worth retrying, replaying that failure as tenacity's own first
attempt so the policy (waits, stops, ``before_sleep`` logging) sees exactly
what it would have seen had it run from the start.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying

__all__ = ["call_with_retries"]

T = TypeVar("T")


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    should_retry: Callable[[BaseException], bool],
    retrying: Callable[[float], AsyncRetrying],
) -> T:
    """Await ``call()``; if it fails with an error worth retrying, retry it with tenacity.

    Args:
        call: One attempt. Called again for each retry.
        should_retry: The policy's retry predicate: whether this failure of
            the first attempt is worth another try. Anything it refuses is
            raised as it is.
        retrying: Builds the tenacity policy, given the seconds the first
            attempt took (so a time bound, ``stop_before_delay``, can count
            them). Its own ``retry`` predicate decides about later failures;
            build it with ``reraise=True`` so the last failure is raised as
            it is rather than as ``RetryError``.

    Returns:
        What the first successful attempt returned.
    """
    started = time.monotonic()
    try:
        return await call()
    except Exception as exc:
        if not should_retry(exc):
            raise
        first: Exception | None = exc
    spent = time.monotonic() - started

    async def attempt() -> T:
        nonlocal first
        if first is not None:
            # Tenacity's attempt 1 is the one already made: replay its failure.
            failure, first = first, None
            raise failure
        return await call()

    result: T = await retrying(spent)(attempt)
    return result
