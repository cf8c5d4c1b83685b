"""Finishing remote clean-up while the local task is being cancelled, and at shutdown.

The protocol's cancellation rule: when the task driving a generation is
cancelled, a backend that started remote work must stop it (Replicate: cancel
the prediction) within a bounded time, so an interrupted bot neither keeps
paying for images nobody will see nor hangs its pipeline waiting for a slow
provider. Two ways to do it:

- :func:`finish_cleanup` runs the clean-up before the cancellation finishes
  (the usual case: one cancel request);
- :func:`cleanup_in_background` lets the cancellation finish at once and
  runs the clean-up on its own (for clean-up that must first wait for
  something slow, such as a create request whose reply holds the id of what
  to cancel).

Either way the clean-up is a task bounded by its own ``timeout`` and tracked
for the backend that started it, and :meth:`ImageBackend.aclose
<imagegen_core.ImageBackend.aclose>` (and the Pipecat service's shutdown)
waits for the tracked ones, bounded by :data:`DEFAULT_SHUTDOWN_TIMEOUT`,
before closing the connections they need. Without that wait, a cancel that
takes longer than the app's shutdown is aborted with its session, and the
remote work runs on.

How a clean-up finds its backend: :class:`~imagegen_core.Generation` sets
the backend's tracker in a context variable around every step of the
backend's generator (:func:`tracking_cleanups`), so a backend author calls
the two functions above and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from contextvars import ContextVar, Token

__all__ = [
    "DEFAULT_CLEANUP_TIMEOUT",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "CleanupTracker",
    "cleanup_in_background",
    "finish_cleanup",
    "tracking_cleanups",
]

DEFAULT_CLEANUP_TIMEOUT = 5.0
"""Seconds a backend may spend cancelling remote work before giving up."""

DEFAULT_SHUTDOWN_TIMEOUT = 10.0
"""Most seconds closing a backend (or ending a Pipecat pipeline) waits for clean-ups in flight.

Each clean-up is bounded by its own timeout as well; this bounds the wait for
all of them together, so a stuck provider cannot hold shutdown longer.
"""

_log = logging.getLogger("imagegen")


class CleanupTracker:
    """The clean-up tasks in flight for one owner (a backend), so its shutdown can wait for them.

    It also holds the only strong reference to a clean-up nobody awaits any
    more: the event loop keeps tasks weakly, and one garbage-collected
    mid-request would be a cancel never sent.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[bool]] = set()

    @property
    def pending(self) -> int:
        """How many clean-ups are still running."""
        return sum(not task.done() for task in self._tasks)

    def track(self, task: asyncio.Task[bool]) -> None:
        """Hold ``task`` until it finishes."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> bool:  # noqa: ASYNC109 - bounds the wait itself
        """Wait until the clean-ups of the running event loop have finished, at most ``timeout``.

        Cancelling the wait leaves the clean-ups running.

        Returns:
            Whether none is left running.
        """
        loop = asyncio.get_running_loop()
        running = {task for task in self._tasks if not task.done() and task.get_loop() is loop}
        if not running:
            return True
        _, late = await asyncio.wait(running, timeout=timeout)
        if late:
            _log.warning(
                "%d remote clean-up(s) still running after %.1f s; no longer waiting",
                len(late),
                timeout,
            )
        return not late


_UNOWNED = CleanupTracker()
"""Clean-ups started outside any generation: held so that they are not garbage-collected."""

_current: ContextVar[CleanupTracker | None] = ContextVar("imagegen_cleanups", default=None)


class tracking_cleanups:  # lower case: it is used, and was, like a function
    """Within the block, clean-ups started in this context are tracked by ``tracker``.

    A class rather than ``@contextmanager``: the block is entered around every
    step of every generation, and the generator-based form cost about six
    calls more each time (benchmarks/profile_loop.py).
    """

    __slots__ = ("_token", "_tracker")

    def __init__(self, tracker: CleanupTracker) -> None:
        self._tracker = tracker
        self._token: Token[CleanupTracker | None] | None = None

    def __enter__(self) -> None:
        self._token = _current.set(self._tracker)

    def __exit__(self, *exc_info: object) -> None:
        assert self._token is not None  # set by __enter__
        _current.reset(self._token)


async def finish_cleanup(
    cleanup: Awaitable[object],
    *,
    timeout: float = DEFAULT_CLEANUP_TIMEOUT,  # noqa: ASYNC109 - bounds the clean-up, not the caller
    what: str = "cleanup",
) -> bool:
    """Run ``cleanup`` to completion even if the caller is cancelled again, bounded by ``timeout``.

    Call it from an ``except asyncio.CancelledError`` block and re-raise
    afterwards: the cancellation is never swallowed. Errors and time-outs of
    the clean-up itself are logged, not raised, so they cannot mask the
    cancellation that caused them. Cancelled a second time while waiting,
    the caller honours the new cancellation at once and the clean-up goes on
    in the background, still bounded and tracked.

    Returns:
        Whether the clean-up finished successfully in time.
    """
    return await asyncio.shield(_start(cleanup, timeout, what))


def cleanup_in_background(
    cleanup: Awaitable[object],
    *,
    timeout: float = DEFAULT_CLEANUP_TIMEOUT,
    what: str = "cleanup",
) -> None:
    """Start ``cleanup`` as a task of its own, bounded by ``timeout``, and return at once.

    For a clean-up that must first wait for something slow: the caller's
    cancellation then finishes without waiting, and the backend's
    :meth:`~imagegen_core.ImageBackend.aclose` waits for the clean-up
    (bounded) before closing the connections it uses. Failures and time-outs
    are logged, as with :func:`finish_cleanup`.
    """
    _start(cleanup, timeout, what)


def _start(cleanup: Awaitable[object], timeout: float, what: str) -> asyncio.Task[bool]:
    task = asyncio.ensure_future(_bounded(cleanup, timeout, what))
    (_current.get() or _UNOWNED).track(task)
    return task


async def _bounded(cleanup: Awaitable[object], timeout: float, what: str) -> bool:  # noqa: ASYNC109
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            await cleanup
    except TimeoutError:
        if deadline.expired():
            _log.warning("%s did not finish within %.1f s; abandoned", what, timeout)
        else:
            _log.warning("%s failed: TimeoutError", what)
        return False
    except Exception as exc:
        _log.warning("%s failed: %s", what, type(exc).__name__)
        return False
    return True
