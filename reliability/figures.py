"""The figures a reliability run measures, and the one table they are printed in.

Each section of the suite returns a list of :class:`Figure` s. A figure says
what it counts, what it measured and, for the figures that are promises
(a leaked task, a prompt without an outcome), what it must be; the fast tests
assert exactly those, and the table marks any that missed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Figure", "format_table", "missed", "percentile"]


@dataclass(frozen=True)
class Figure:
    """One measured figure of a section."""

    section: str
    name: str
    value: float
    unit: str = ""
    expected: float | None = None
    """What the figure must be (``None``: a measurement, not a promise)."""

    @property
    def held(self) -> bool:
        """Whether the promise held (a plain measurement always does)."""
        return self.expected is None or self.value == self.expected

    def shown(self) -> str:
        """The value as the table prints it: whole numbers bare, others to one decimal."""
        value = self.value
        text = str(int(value)) if float(value).is_integer() else f"{value:.1f}"
        return f"{text} {self.unit}".strip()


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``samples`` (0.0 when there are none)."""
    if not samples:
        return 0.0
    if len(samples) == 1:
        return samples[0]
    cuts = statistics.quantiles(samples, n=1000, method="inclusive")
    return cuts[min(len(cuts) - 1, max(0, round(fraction * 1000) - 1))]


def missed(figures: Iterable[Figure]) -> list[Figure]:
    """The figures whose promise did not hold."""
    return [figure for figure in figures if not figure.held]


def format_table(figures: Sequence[Figure]) -> str:
    """One plain-text (and Markdown) table of every figure, promises marked."""
    rows = [("section", "figure", "value", "must be")]
    for figure in figures:
        must = "" if figure.expected is None else str(int(figure.expected))
        if not figure.held:
            must += "  MISSED"
        rows.append((figure.section, figure.name, figure.shown(), must))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)
