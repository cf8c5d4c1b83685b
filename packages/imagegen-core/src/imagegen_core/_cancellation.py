"""Finishing remote clean-up while the local task is being cancelled.

The protocol's cancellation rule: when the task driving a generation is
cancelled, a backend that started remote work must stop it (Replicate: cancel
the prediction) *before* the cancellation completes, and within a bounded
time, so an interrupted bot neither keeps paying for images nobody will see nor
hangs its pipeline waiting for a slow provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["DEFAULT_CLEANUP_TIMEOUT", "finish_cleanup"]

DEFAULT_CLEANUP_TIMEOUT = 5.0
"""Seconds a backend may spend cancelling remote work before giving up."""

_log = logging.getLogger("imagegen")


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
    cancellation that caused them.

    Returns:
        Whether the clean-up finished successfully in time.
    """
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout)
    except TimeoutError:
        task.cancel()
        _log.warning("%s did not finish within %.1f s; abandoned", what, timeout)
        return False
    except asyncio.CancelledError:
        # Cancelled a second time while cleaning up: let the clean-up go on in
        # the background (it is shielded and bounded by its own request
        # timeouts) and honour the new cancellation.
        task.add_done_callback(_log_failure(what))
        raise
    except Exception as exc:
        _log.warning("%s failed: %s", what, type(exc).__name__)
        return False
    return True


def _log_failure(what: str) -> Callable[[asyncio.Future[object]], None]:
    def report(task: asyncio.Future[object]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            _log.warning("%s failed: %s", what, type(error).__name__)

    return report
