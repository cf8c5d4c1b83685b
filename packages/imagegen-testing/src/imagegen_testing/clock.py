"""Where the emulators read the time they report, so that a recording can be reproduced.

The emulators report times in their replies: a prediction's ``created_at``
and ``metrics``, a file's ``expires_at``, an image's ``created``, and the
``Date`` header of every response. Read from the wall clock, each re-recording
of a cassette would rewrite every one of them even when the traffic did not
change. A :class:`SteppingClock` makes them a function of how many times the
clock was read, so the same traffic records the same bytes. Only the reported
times come from it: waiting (latencies, sync waits, expiry) keeps using the
event loop's real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

__all__ = ["RECORDING_EPOCH", "Clock", "SteppingClock", "http_date", "wall_clock"]

Clock = Callable[[], datetime]
"""A source of aware UTC datetimes for the times an emulator reports."""

RECORDING_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
"""Where a :class:`SteppingClock` starts unless told otherwise."""


def wall_clock() -> datetime:
    """The current time in UTC (the default: an emulator run by hand reports real times)."""
    return datetime.now(UTC)


def http_date(moment: datetime) -> str:
    """``moment`` as an HTTP ``Date`` header writes it (``Thu, 01 Jan 2026 00:00:00 GMT``)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class SteppingClock:
    """A clock that starts at ``start`` and moves on by ``step`` each time it is read.

    Args:
        start: The first reading.
        step: How far each reading is past the previous one (so durations
            computed from two readings are positive and reproducible).
    """

    def __init__(
        self, start: datetime = RECORDING_EPOCH, step: timedelta = timedelta(milliseconds=1)
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if step <= timedelta(0):
            raise ValueError("step must be positive")
        self._next = start
        self._step = step

    def __call__(self) -> datetime:
        """The next reading."""
        now, self._next = self._next, self._next + self._step
        return now

    def __repr__(self) -> str:
        return f"SteppingClock(next={self._next.isoformat()}, step={self._step})"
