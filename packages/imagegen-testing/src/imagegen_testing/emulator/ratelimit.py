"""Replicate's documented rate limits as token buckets.

Replicate allows 600 prediction creates and 3000 other requests a minute, with
short bursts above that, and reports the state in ``ratelimit-remaining`` and
``ratelimit-reset`` on every reply (header names and typical values taken from
recorded real responses; the arithmetic behind them is the emulator's guess).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["TokenBucket"]


@dataclass
class TokenBucket:
    """``per_minute`` requests a minute, refilled continuously, bursting up to ``per_minute``."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _updated: float = field(init=False)

    def __post_init__(self) -> None:
        if self.per_minute < 1:
            raise ValueError("a rate limit must allow at least one request a minute")
        self._tokens = float(self.per_minute)
        self._updated = self.clock()

    @property
    def _rate(self) -> float:
        return self.per_minute / 60.0

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(
            float(self.per_minute), self._tokens + (now - self._updated) * self._rate
        )
        self._updated = now

    def take(self) -> float | None:
        """Spend one request; ``None`` if allowed, else the seconds until one is available."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / self._rate

    @property
    def remaining(self) -> int:
        """Whole requests left right now."""
        self._refill()
        return int(self._tokens)

    @property
    def reset(self) -> int:
        """Whole seconds until the next request is available again (at least 1)."""
        self._refill()
        missing = max(0.0, 1 - (self._tokens - int(self._tokens)))
        return max(1, math.ceil(missing / self._rate))
