"""Every difference between supported Pipecat releases, absorbed in one place.

Supported: ``pipecat-ai>=0.0.108,<2``. What moved or appeared across that
range, and how it is bridged here by feature detection (never by version
numbers, and never through a private Pipecat name):

- The ``NOT_GIVEN`` sentinel of settings deltas lived in
  ``pipecat.services.settings`` (its class private) up to 0.0.108 and in
  ``pipecat.utils.types`` from 1.8.0. We import the public ``NOT_GIVEN`` and
  ``is_given`` from wherever they are and derive the class from the instance.
- ``ErrorCategory`` (``pipecat.utils.errors``) and the ``category`` /
  ``force_treat_as_permanent`` arguments of ``push_error`` exist from 1.8.0;
  ``set_usable`` / ``is_usable`` from 1.8. On older releases errors are pushed
  without them, and ``ServiceSwitcherStrategyFailover`` fails over on any
  error there anyway.
- ``cancel_ttfb_metrics`` exists from 1.8.0.
- Uninterruptible frames were marked with the ``UninterruptibleFrame`` mixin
  before 1.12.0 and with the ``interruptible`` field since.

The failure policy (how an error kind maps onto Pipecat's vocabulary) is not
a version difference and lives in :mod:`imagegen_core.pipecat._failover`.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import TYPE_CHECKING, Any, TypeVar

from pipecat.frames import frames as _frames
from pipecat.processors.frame_processor import FrameProcessor

from imagegen_core.pipecat._failover import FailurePolicy

if TYPE_CHECKING:
    from pipecat.utils.types import NOT_GIVEN, is_given
    from pipecat.utils.types import NotGiven as NotGivenType
else:
    try:
        from pipecat.utils.types import NOT_GIVEN, is_given
    except ImportError:  # pipecat 0.0.108
        from pipecat.services.settings import NOT_GIVEN, is_given
    NotGivenType = type(NOT_GIVEN)

_ErrorCategory: Any
try:
    from pipecat.utils.errors import ErrorCategory as _ErrorCategory
except ImportError:  # pipecat 0.0.108
    _ErrorCategory = None

__all__ = [
    "HAS_ERROR_CATEGORIES",
    "HAS_USABILITY",
    "NOT_GIVEN",
    "NotGivenType",
    "cancel_ttfb_metrics",
    "given",
    "given_settings",
    "is_given",
    "is_interruptible",
    "mark_usable",
    "push_error",
]

_T = TypeVar("_T")

HAS_ERROR_CATEGORIES = _ErrorCategory is not None
"""Whether the installed Pipecat has ``ErrorCategory`` and categorised ``push_error``."""

HAS_USABILITY = hasattr(FrameProcessor, "set_usable")
"""Whether the installed Pipecat tracks ``is_usable`` (what 1.8+'s failover reads)."""

_PUSH_ERROR_PARAMETERS = frozenset(inspect.signature(FrameProcessor.push_error).parameters)


def given(value: _T | NotGivenType) -> _T | None:
    """A stored settings value, with ``NOT_GIVEN`` read as ``None``.

    Store-mode settings never hold ``NOT_GIVEN`` once the service is built;
    this narrows the type for readers and stays safe if one slips through.
    """
    return value if is_given(value) else None


def given_settings(settings: Any) -> dict[str, Any]:
    """The fields of a settings dataclass that hold a value, by name, in field order.

    ``NOT_GIVEN`` and ``None`` are left out, as :func:`given` reads both as
    unset. For code that reads many settings on every prompt: one pass over
    the instance, where a :func:`given` per field costs the event loop two
    calls each (benchmarks/profile_loop.py).

    Args:
        settings: A dataclass instance, such as a Pipecat ``ImageGenSettings``.

    Raises:
        TypeError: ``settings`` is not a dataclass instance.
    """
    cls = type(settings)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(item.name for item in dataclasses.fields(cls))
    stored = getattr(settings, "__dict__", None)
    if stored is not None:
        try:
            return {
                name: value
                for name in names
                if (value := stored[name]) is not NOT_GIVEN and value is not None
            }
        except KeyError:
            pass  # a field kept elsewhere (slots, or a class attribute): read attributes
    return {
        name: value
        for name in names
        if (value := getattr(settings, name)) is not NOT_GIVEN and value is not None
    }


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
"""Each settings class's field names, read once: ``dataclasses.fields`` costs a call per field."""


def _category(name: str) -> Any:
    if _ErrorCategory is None:
        return None
    # A release without the member (APPLICATION arrived in 1.8.0) reports UNKNOWN.
    return getattr(_ErrorCategory, name, _ErrorCategory.UNKNOWN)


async def push_error(
    processor: FrameProcessor, message: str, *, exception: Exception, policy: FailurePolicy
) -> None:
    """Push a non-fatal ``ErrorFrame`` upstream with whatever the installed Pipecat understands."""
    if exception.__traceback__ is None:
        # Pipecat 0.0.108 logs the last line of the exception's traceback and
        # fails on an exception that was never raised, so give it one.
        try:
            raise exception
        except Exception as raised:
            exception = raised
    kwargs: dict[str, Any] = {"exception": exception}
    if "category" in _PUSH_ERROR_PARAMETERS:
        kwargs["category"] = _category(policy.category)
    if policy.permanent and "force_treat_as_permanent" in _PUSH_ERROR_PARAMETERS:
        kwargs["force_treat_as_permanent"] = True
    await processor.push_error(message, **kwargs)


async def mark_usable(processor: FrameProcessor) -> None:
    """Declare the processor usable again after it proved it works (1.8+; no-op before)."""
    if HAS_USABILITY and not processor.is_usable:
        await processor.set_usable(True)


async def cancel_ttfb_metrics(processor: FrameProcessor) -> None:
    """Drop a started TTFB measurement that will never see a first byte (no-op on 0.0.108)."""
    cancel = getattr(processor, "cancel_ttfb_metrics", None)
    if cancel is not None:
        await cancel()


def is_interruptible(frame: _frames.Frame) -> bool:
    """Whether an interruption may cancel the processing of ``frame``."""
    flag = getattr(frame, "interruptible", None)
    if isinstance(flag, bool):
        return flag
    marker = getattr(_frames, "UninterruptibleFrame", None)
    return not (isinstance(marker, type) and isinstance(frame, marker))
