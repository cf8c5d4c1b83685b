"""The request headers that change how a prediction is created: ``Prefer`` and ``Cancel-After``.

``Prefer`` follows RFC 7240 (comma-separated preferences, unknown ones
ignored); Replicate reads only ``wait`` / ``wait=N`` with N from 1 to 60.
``Cancel-After`` takes Go-style durations (``30s``, ``5m``, ``1h30m``,
``250ms``); Replicate adds that a bare number means seconds.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_WAIT",
    "HeaderError",
    "parse_cancel_after",
    "parse_go_duration",
    "parse_prefer_wait",
]

DEFAULT_WAIT = 60
"""Seconds a bare ``Prefer: wait`` holds the request."""

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_BARE_SECONDS = re.compile(r"\d+(?:\.\d*)?|\.\d+")


class HeaderError(ValueError):
    """A header value the API rejects (a 400)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


def parse_prefer_wait(value: str | None) -> tuple[int, str] | None:
    """The seconds to hold the request and the ``Preference-Applied`` value, if ``wait`` was asked.

    Raises:
        HeaderError: ``wait`` has a value that is not a whole number from 1 to 60.
    """
    if value is None:
        return None
    for preference in value.split(","):
        token, sep, raw = preference.split(";", 1)[0].strip().partition("=")
        if token.strip().lower() != "wait":
            continue
        raw = raw.strip().strip('"')
        if not sep:
            return DEFAULT_WAIT, "wait"
        if not raw.isdigit() or not 1 <= int(raw) <= 60:
            raise HeaderError(
                "Invalid Prefer header",
                "Prefer: wait must be 'wait' or 'wait=n' with n a whole number of seconds "
                f"from 1 to 60, got {raw!r}",
            )
        return int(raw), f"wait={int(raw)}"
    return None


def parse_go_duration(value: str) -> float:
    """Seconds in a Go-style duration, or a bare number of seconds.

    Raises:
        ValueError: ``value`` is neither.
    """
    text = value.strip()
    if _BARE_SECONDS.fullmatch(text):
        return float(text)
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    position, total = 0, 0.0
    for match in _GO_DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match[1]) * _UNITS[match[2]]
        position = match.end()
    if not text or position != len(text):
        raise ValueError(f"{value!r} is not a duration such as 30s, 5m or 1h30m")
    return sign * total


def parse_cancel_after(value: str | None, *, minimum: float) -> float | None:
    """Seconds from creation until the deadline, if ``Cancel-After`` was sent.

    Raises:
        HeaderError: The value is not a duration, or is shorter than ``minimum``.
    """
    if value is None:
        return None
    try:
        seconds = parse_go_duration(value)
    except ValueError as error:
        raise HeaderError("Invalid Cancel-After header", str(error)) from None
    if seconds < minimum or seconds <= 0:
        raise HeaderError(
            "Invalid Cancel-After header",
            f"Cancel-After must be at least {minimum:g}s, got {value.strip()!r}",
        )
    return seconds
