"""Reading an outcome: which error kind an error frame carries, if any."""

from __future__ import annotations

import re
from typing import Any

from imagegen_core import ErrorKind, ImageGenError

__all__ = ["error_kind"]

_KIND_IN_TEXT = re.compile(r"\b(" + "|".join(kind.value for kind in ErrorKind) + r"): ")


def error_kind(frame_or_error: Any) -> ErrorKind | None:
    """The kind of an ``ErrorFrame`` or an exception; ``None`` when it is uncategorized.

    An error frame carries the ``ImageGenError`` it reports (``exception``);
    its text starts with the kind too (``[replicate] rate_limit: ...``), which
    is what a log reader sees, so a frame counts as categorized only when both
    agree.
    """
    if isinstance(frame_or_error, BaseException):
        return frame_or_error.kind if isinstance(frame_or_error, ImageGenError) else None
    exception = getattr(frame_or_error, "exception", None)
    if not isinstance(exception, ImageGenError):
        return None
    found = _KIND_IN_TEXT.search(str(getattr(frame_or_error, "error", "")))
    if found is None or found.group(1) != exception.kind.value:
        return None
    return exception.kind
