"""The clocks the emulators report times from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imagegen_testing.clock import RECORDING_EPOCH, SteppingClock, http_date, wall_clock


def test_a_stepping_clock_repeats_the_same_readings() -> None:
    first, second = SteppingClock(), SteppingClock()
    readings = [first() for _ in range(3)]
    assert readings == [second() for _ in range(3)]
    assert readings[0] == RECORDING_EPOCH
    assert readings[2] - readings[0] == timedelta(milliseconds=2)


def test_a_stepping_clock_refuses_a_naive_start_or_a_step_that_does_not_advance() -> None:
    with pytest.raises(ValueError, match="timezone"):
        SteppingClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        SteppingClock(step=timedelta(0))


def test_the_wall_clock_is_aware_utc_and_http_dates_read_as_gmt() -> None:
    assert wall_clock().tzinfo is UTC
    assert http_date(RECORDING_EPOCH) == "Thu, 01 Jan 2026 00:00:00 GMT"
