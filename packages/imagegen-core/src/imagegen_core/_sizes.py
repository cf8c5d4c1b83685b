"""Pixel dimensions and the protocol-wide pixel cap, with no Pillow in them.

Requests, results, input images and the decoder all speak of sizes; keeping
:class:`ImageSize` and :data:`DEFAULT_MAX_PIXELS` here lets each of them use
the same definitions without importing the others (or Pillow).
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["DEFAULT_MAX_PIXELS", "ImageSize"]

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest image accepted, in pixels (about 6300 x 6300). Generators rarely go
past 4 MP; the limit exists to stop a hostile or broken file from claiming
gigapixels and exhausting memory when decoded."""

_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX\u00d7]\s*(\d{1,5})\s*$")  # x or the multiplication sign
_MAX_SIDE = 16_384


class ImageSize(NamedTuple):
    """Pixel dimensions, width first."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @classmethod
    def parse(cls, value: str | tuple[int, int] | ImageSize) -> ImageSize:
        """Read ``"1024x768"`` or a ``(width, height)`` pair.

        Raises:
            ValueError: The value is not a size, or a side is out of range.
        """
        if isinstance(value, str):
            match = _SIZE.match(value)
            if match is None:
                raise ValueError(f"size {value!r} is not of the form WIDTHxHEIGHT, e.g. '1024x768'")
            width, height = int(match[1]), int(match[2])
        else:
            width, height = value
        for side in (width, height):
            if not isinstance(side, int) or isinstance(side, bool):
                raise ValueError(f"size sides must be whole numbers, got {value!r}")
            if not 1 <= side <= _MAX_SIDE:
                raise ValueError(
                    f"size sides must be between 1 and {_MAX_SIDE} pixels, got {value!r}"
                )
        return cls(width, height)
