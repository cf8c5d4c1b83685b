"""Progress from what a prediction reply says: its status, and tqdm lines in its ``logs``.

Replicate reports no progress field. What it does show, on every poll, is the
prediction's ``status`` and its ``logs``, the model's own output so far, where
many image models print a tqdm bar per denoising step::

     40%|████      | 10/25 [00:01<00:01,  9.20it/s]

(Cog turns tqdm's carriage-return updates into lines; a raw carriage return
is read the same way.) This module is pure: :class:`ProgressReader` takes each
reply's status and logs and says what changed, as a
:class:`~imagegen_core.GenerationProgress`, or nothing:

* while ``starting``: one ``"waiting for a worker"`` event. Replicate does
  not report a queue position, so ``queue_position`` stays ``None``.
* while ``processing``: the latest tqdm line's ``n/total`` (or, without
  counts, its percentage) as the fraction, with ``"step n/total"`` as the
  message; before any such line, one ``"running"`` event without a fraction.

Only what a line says is reported: no fraction is estimated from time or
interpolated between polls, and a model that logs a second bar (a refiner
pass, say) is reported as that bar, even though its fraction starts again
from zero.
"""

from __future__ import annotations

import re

from imagegen_core import GenerationProgress

__all__ = ["ProgressReader", "latest_tqdm"]

# "100%|██████████| 25/25 [00:03<00:00,  7.1it/s]"; the bar may be any characters.
_TQDM = re.compile(r"(?P<percent>\d{1,3})%\|[^|\r\n]{0,200}\|\s*(?:(?P<done>\d+)/(?P<total>\d+))?")
_LOG_TAIL = 4096
"""Only the end of the logs is searched: the latest line is what counts."""


def latest_tqdm(logs: str) -> tuple[float, str | None] | None:
    """The fraction (and ``"step n/total"``) of the last tqdm line in ``logs``, if any."""
    tail = logs[-_LOG_TAIL:]
    last = None
    for last in _TQDM.finditer(tail):  # noqa: B007 - only the last match is wanted
        pass
    if last is None:
        return None
    done, total = last["done"], last["total"]
    if done is not None and total is not None and int(total) > 0 and int(done) <= int(total):
        return int(done) / int(total), f"step {int(done)}/{int(total)}"
    percent = int(last["percent"])
    if percent > 100:
        return None
    return percent / 100, None


class ProgressReader:
    """Turns successive prediction replies into progress events, each only when it changed."""

    def __init__(self) -> None:
        self._last: tuple[str, float | None, str | None] | None = None

    @property
    def fraction(self) -> float | None:
        """The latest fraction a reply reported (for events that carry a preview)."""
        return self._last[1] if self._last is not None else None

    def read(self, status: str, logs: str | None) -> GenerationProgress | None:
        """The progress a reply shows, or ``None`` if it shows nothing new."""
        if status == "starting":
            event: tuple[str, float | None, str | None] = (status, None, "waiting for a worker")
        elif status == "processing":
            found = latest_tqdm(logs or "")
            if found is None:
                event = (status, None, "running")
            else:
                fraction, steps = found
                event = (status, fraction, steps or "running")
        else:
            return None
        if event == self._last:
            return None
        self._last = event
        return GenerationProgress(fraction=event[1], message=event[2])
