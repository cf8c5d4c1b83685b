"""Catching standard tests that a subclass silently overrode or removed.

A conformance suite is only worth its name if "passes" means every standard
test ran as written. An author may still opt out of one test, visibly: by
overriding it with ``@pytest.mark.xfail(reason="...")`` on the override, which
shows up in every test report. Anything else (an override that just passes,
``test_x = None``, an xfail without a reason) is reported by
:func:`find_tampering`.

The standard tests are only as strict as the helpers and fixtures they call,
so overriding one of those (``check_images`` that checks nothing, say) is
tampering too. A subclass configures the suite through its class attributes
and the :data:`EXTENSION_POINTS` methods, nothing else.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = [
    "EXTENSION_POINTS",
    "GUARD_NAME",
    "find_tampering",
    "machinery_names",
    "standard_test_names",
]

GUARD_NAME = "test_no_overrides_DO_NOT_OVERRIDE"
"""The guard test's own name; it may never be overridden, not even with xfail."""

EXTENSION_POINTS = frozenset({"live_provider", "remote_jobs_running", "input_images_received"})
"""The methods a subclass is meant to override; every other method is machinery."""


def standard_test_names(base: type) -> list[str]:
    """The standard tests ``base`` defines, in definition order."""
    names: list[str] = []
    for klass in reversed(base.__mro__):
        for name, member in vars(klass).items():
            if name.startswith("test") and callable(member) and name not in names:
                names.append(name)
    return names


def machinery_names(base: type) -> list[str]:
    """The helpers, properties and fixtures of ``base`` that its standard tests rely on.

    Every method-like member defined on ``base`` itself, except the tests, the
    :data:`EXTENSION_POINTS` and dunder methods. Class attributes holding plain
    values (``backend_settings``, ``cancel_timeout``, ...) are settings, not
    machinery.
    """
    names: list[str] = []
    for name, member in vars(base).items():
        if name.startswith("test") or name in EXTENSION_POINTS:
            continue
        if name.startswith("__") and name.endswith("__"):
            continue
        if callable(member) or isinstance(member, property | staticmethod | classmethod):
            names.append(name)
    return names


def find_tampering(subclass: type, base: type) -> list[str]:
    """Describe each standard test of ``base`` that ``subclass`` changed without an xfail reason.

    Overridden machinery (see :func:`machinery_names`) is reported as well.
    """
    problems: list[str] = []
    for name in machinery_names(base):
        if inspect.getattr_static(subclass, name, None) is not inspect.getattr_static(base, name):
            problems.append(
                f"{name} was overridden; the standard tests rely on it, so configure the "
                "suite through its class attributes, live_provider(), "
                "remote_jobs_running() and input_images_received() instead"
            )
    for name in standard_test_names(base):
        original = inspect.getattr_static(base, name)
        current = inspect.getattr_static(subclass, name, None)
        if current is original:
            continue
        if current is None:
            problems.append(f"{name} was removed (set to None or deleted)")
            continue
        function = getattr(current, "__func__", current)
        if not callable(function):
            problems.append(f"{name} was replaced by a non-test {type(current).__name__}")
            continue
        if name == GUARD_NAME:
            problems.append(f"{name} was overridden; the guard itself can never be opted out of")
            continue
        reason = _xfail_reason(function)
        if reason is None:
            problems.append(
                f"{name} was overridden; to opt out, decorate the override with "
                f'@pytest.mark.xfail(reason="why this backend cannot pass it")'
            )
        elif not reason.strip():
            problems.append(f"{name} is marked xfail without a reason; say why in reason=...")
    return problems


def _xfail_reason(function: Any) -> str | None:
    """The reason of an xfail mark placed on the function itself, '' if it has none."""
    for mark in getattr(function, "pytestmark", []):
        if getattr(mark, "name", None) == "xfail":
            reason = mark.kwargs.get("reason", "")
            return reason if isinstance(reason, str) else ""
    return None
