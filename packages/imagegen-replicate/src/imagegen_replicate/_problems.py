"""Turning Replicate's HTTP error replies into :class:`~imagegen_core.ImageGenError`.

Replicate answers errors with ``application/problem+json`` (``title``,
``detail``, ``status``), but not everything in front of it does: a load
balancer or proxy may answer a 502 with an HTML page, and throttling replies
have been plain ``{"detail": ...}``. This module reads all of those, puts
Replicate's own ``detail`` into the message (it is what tells a user that the
aspect ratio is wrong or the model does not exist), and picks the
:class:`~imagegen_core.ErrorKind` from the status code.

Nothing here ever sees request headers, so a token cannot leak into a message
from this side; the backend still scrubs messages as a second line of defence.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

from imagegen_core import ErrorKind, ImageGenError
from imagegen_core.http import retry_after_seconds
from imagegen_replicate._wire import parse_problem_json

__all__ = ["Problem", "error_for_status", "kind_for_status", "parse_problem", "parse_retry_after"]

_MAX_DETAIL = 500
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
# "Expected available in 1 second." / "Your rate limit resets in ~30s." / "in 2.5 seconds"
_BODY_WAIT = re.compile(r"\bin\s*~?\s*(\d+(?:\.\d+)?)\s*(?:s\b|sec\b|secs\b|seconds?\b)", re.I)
_BODY_WAIT_MINUTES = re.compile(
    r"\bin\s*~?\s*(\d+(?:\.\d+)?)\s*(?:m\b|min\b|mins\b|minutes?\b)", re.I
)

_KIND_BY_STATUS = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    402: ErrorKind.QUOTA,
    403: ErrorKind.AUTHORIZATION,
    404: ErrorKind.INVALID_REQUEST,
    408: ErrorKind.TIMEOUT,
    409: ErrorKind.INVALID_REQUEST,
    413: ErrorKind.INVALID_REQUEST,
    415: ErrorKind.INVALID_REQUEST,
    422: ErrorKind.INVALID_REQUEST,
    429: ErrorKind.RATE_LIMIT,
    504: ErrorKind.TIMEOUT,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """What an error reply said, whatever its format.

    Args:
        title: Short summary (problem+json ``title``, or an HTML page's title).
        detail: The specific explanation, when there is one.
    """

    title: str | None
    detail: str | None

    def describe(self) -> str | None:
        """One line for people: the detail, prefixed by the title when it adds something."""
        if self.detail and self.title and self.title.lower() not in self.detail.lower():
            return f"{self.title}: {self.detail}"
        return self.detail or self.title


def kind_for_status(status: int) -> ErrorKind:
    """The error kind an HTTP status means, for a reply from Replicate's API."""
    if status in _KIND_BY_STATUS:
        return _KIND_BY_STATUS[status]
    if status >= 500:
        return ErrorKind.SERVER
    if status >= 400:
        return ErrorKind.INVALID_REQUEST
    return ErrorKind.UNKNOWN


def parse_problem(body: str, content_type: str | None) -> Problem:
    """Read an error body: problem+json, plain JSON, HTML, or text."""
    text = body.strip()
    if not text:
        return Problem(None, None)
    looks_json = text.startswith("{") or "json" in (content_type or "").lower()
    if looks_json and (details := parse_problem_json(text)) is not None:
        title = _clean(details.title) if details.title else None
        detail = details.detail or details.error
        detail = _clean(detail) if detail else None
        if details.invalid_fields:
            invalid = _clean("; ".join(f.describe() for f in details.invalid_fields[:10]))
            detail = f"{detail}: {invalid}" if detail else invalid
        return Problem(title, detail)
    if "html" in (content_type or "").lower() or text.lstrip().startswith("<"):
        match = _HTML_TITLE.search(text)
        title = _clean(html.unescape(match[1])) if match else None
        without_code = _SCRIPT_OR_STYLE.sub(" ", text)
        words = _clean(html.unescape(_TAG.sub(" ", without_code)))
        if title and words.startswith(title):
            words = words[len(title) :].strip()
        return Problem(title or None, words or None)
    return Problem(None, _clean(text))


def parse_retry_after(
    headers: Mapping[str, str], detail: str | None = None, *, now: float | None = None
) -> float | None:
    """Seconds to wait before retrying, from ``Retry-After`` or the body's wording.

    The header may be seconds or an HTTP date (RFC 9110). Replicate's
    throttling bodies say things like "Expected available in 1 second" or
    "Your rate limit resets in ~30s"; those are read when the header is absent.
    """
    from_header = retry_after_seconds(_header(headers, "Retry-After"), now=now)
    if from_header is not None:
        return from_header
    if detail:
        if match := _BODY_WAIT.search(detail):
            return float(match[1])
        if match := _BODY_WAIT_MINUTES.search(detail):
            return float(match[1]) * 60
    return None


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    action: str,
) -> ImageGenError:
    """The :class:`ImageGenError` for an HTTP error reply.

    The error names no backend: :class:`~imagegen_core.Generation` fills the
    name in on every error a generation raises.

    Args:
        status: The HTTP status code.
        headers: The reply headers (for ``Content-Type`` and ``Retry-After``).
        body: The reply body, decoded as text.
        action: What we were doing, for the message ("creating a prediction").
    """
    problem = parse_problem(body, _header(headers, "Content-Type"))
    kind = kind_for_status(status)
    described = problem.describe() or _default_reason(status)
    message = f"Replicate answered {status} while {action}: {described}"
    retry_after = parse_retry_after(headers, problem.detail) if status in (429, 503) else None
    if kind is ErrorKind.AUTHENTICATION:
        message += " (check the API token, set by api_token or REPLICATE_API_TOKEN)"
    return ImageGenError(message, kind=kind, retry_after=retry_after, status=status)


def _default_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no explanation given"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # aiohttp's headers are case-insensitive already; plain dicts are not.
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _clean(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1].rstrip() + "…"
    return text
