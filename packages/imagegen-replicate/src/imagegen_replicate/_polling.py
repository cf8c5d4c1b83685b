"""When to poll a prediction the sync wait did not finish: adaptive, by what it is doing.

Two costs pull against each other: every poll is a request (Replicate counts
them against the rate limit, and each is a loop turn in a real-time bot), and
every second between polls is, on average, half a second of delay between the
image being ready and the bot showing it. Where the prediction is in its life
settles the trade-off:

- ``starting`` (waiting for a worker, or booting a cold model: seconds to
  minutes) cannot end in a result, so the wait grows by ``poll_backoff`` up
  to ``poll_max_interval_starting`` (2 s by default);
- ``processing`` can end any moment, so the wait grows only up to
  ``poll_max_interval`` (0.7 s by default): on a 45 s prediction that is
  fewer requests than polling every 0.5 s, for a median delay from
  completion to result under 0.5 s (``benchmarks/replicate_polling.py``
  measures both; the figures are in ``docs/replicate.md``).

Replicate's ``stream`` URL would remove the polling, but it streams text
outputs; for image models it only says when the prediction ends, which the
next poll learns too, for one more connection per prediction held open.
"""

from __future__ import annotations

from imagegen_replicate._settings import ReplicateSettings
from imagegen_replicate._wire import Prediction

__all__ = ["PollSchedule"]


class PollSchedule:
    """The waits between one prediction's status polls.

    Args:
        settings: The generation's settings snapshot.
    """

    def __init__(self, settings: ReplicateSettings) -> None:
        self._settings = settings
        self._next = settings.poll_interval

    def wait_after(self, prediction: Prediction) -> float:
        """Seconds to wait before polling ``prediction`` (as last seen) again."""
        settings = self._settings
        longest = settings.poll_max_interval
        if prediction.status == "starting":
            longest = max(longest, settings.poll_max_interval_starting)
        wait = min(self._next, longest)
        self._next = min(
            self._next * settings.poll_backoff,
            max(settings.poll_max_interval, settings.poll_max_interval_starting),
        )
        return wait
