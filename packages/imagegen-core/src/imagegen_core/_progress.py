"""How far a generation has got, as the provider reports it.

A backend yields :class:`GenerationProgress` between images when its
provider says something: a percentage from a log line, a queue position, a
low-step preview. Nothing here estimates: a provider that reports nothing
produces no progress events, and one that reports a message without a
percentage has ``fraction=None``. Consumers that iterate a
:class:`~imagegen_core.Generation` for images never see these events; those
that want them ask with :meth:`~imagegen_core.Generation.events`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from imagegen_core._results import GeneratedImage

__all__ = ["MAX_PROGRESS_MESSAGE_LENGTH", "GenerationEvent", "GenerationProgress"]

MAX_PROGRESS_MESSAGE_LENGTH = 120
"""Longest progress message kept, in characters: a caption, not a log. Longer
text (often a provider's log line) is cut, with an ellipsis."""


@dataclass(frozen=True, slots=True)
class GenerationProgress:
    """A progress report between images; never itself a result.

    Args:
        fraction: Share of the work done, 0 to 1, only when the provider
            reported one.
        queue_position: Jobs ahead of this one at the provider (0: next), when
            it said so.
        message: A short caption for people (``"starting"``, ``"step 12/28"``);
            unprintable characters and whitespace runs become one space and
            long text is cut to
            :data:`MAX_PROGRESS_MESSAGE_LENGTH`.
        preview: A partial or low-step render of image ``preview.index``. It
            is a preview: never counted among the generation's images, and
            consumers that save results must skip it.

    Raises:
        ValueError: ``fraction`` is outside 0..1 (or not a number), or
            ``queue_position`` is negative.
    """

    fraction: float | None = None
    queue_position: int | None = None
    message: str | None = None
    preview: GeneratedImage | None = None

    def __post_init__(self) -> None:
        if self.fraction is not None:
            if isinstance(self.fraction, bool) or not isinstance(self.fraction, int | float):
                raise ValueError(f"fraction must be a number, got {type(self.fraction).__name__}")
            if not math.isfinite(self.fraction) or not 0 <= self.fraction <= 1:
                raise ValueError(f"fraction must be between 0 and 1, got {self.fraction!r}")
            object.__setattr__(self, "fraction", float(self.fraction))
        if self.queue_position is not None and (
            isinstance(self.queue_position, bool)
            or not isinstance(self.queue_position, int)
            or self.queue_position < 0
        ):
            raise ValueError(
                f"queue_position must be a whole number >= 0, got {self.queue_position!r}"
            )
        if self.message is not None:
            object.__setattr__(self, "message", _caption(self.message))

    @property
    def percent(self) -> int | None:
        """The fraction as a whole percentage (rounded down), or None."""
        return None if self.fraction is None else int(self.fraction * 100)

    def describe(self) -> str:
        """One line for people: ``"40% - step 12/28"``, ``"queued (2 ahead)"``, ``"preview"``."""
        parts: list[str] = []
        if self.percent is not None:
            parts.append(f"{self.percent}%")
        if self.queue_position is not None:
            parts.append(f"queued ({self.queue_position} ahead)")
        if self.message:
            parts.append(self.message)
        if self.preview is not None and not parts:
            parts.append("preview")
        return " - ".join(parts) or "working"


GenerationEvent = GeneratedImage | GenerationProgress
"""What :meth:`~imagegen_core.Generation.events` yields: a finished image or a progress report."""


def _caption(text: str) -> str | None:
    # Provider logs carry terminal escapes and carriage returns (tqdm).
    printable = "".join(c if c.isprintable() else " " for c in text)
    one_line = " ".join(printable.split())
    if not one_line:
        return None
    if len(one_line) <= MAX_PROGRESS_MESSAGE_LENGTH:
        return one_line
    return one_line[: MAX_PROGRESS_MESSAGE_LENGTH - 1] + "\u2026"
