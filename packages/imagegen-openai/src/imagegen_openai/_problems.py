"""Turning OpenAI's error replies into :class:`~imagegen_core.ImageGenError`, in one place.

OpenAI answers errors with ``{"error": {"message", "type", "param", "code"}}``.
The status picks the kind, except where the code says more than the status:

* ``400`` with ``moderation_blocked`` (GPT image models) or
  ``content_policy_violation`` (DALL-E), or a ``safety``-typed error, is
  ``content_policy``: the prompt or an input image was refused;
* ``429`` with ``insufficient_quota`` (or ``billing_hard_limit_reached``) is
  ``quota``, not ``rate_limit``: the account is out of credit and waiting will
  not help, so it is not retryable and carries no ``retry_after``;
* any other ``429`` is ``rate_limit``, with the wait taken from
  ``retry-after-ms``, ``Retry-After``, the ``x-ratelimit-reset-requests`` /
  ``-tokens`` header of the exhausted limit (durations such as ``1s``,
  ``6m0s``, ``20ms``), or the message's "try again in 20s", in that order.

A proxy in front of the API may answer with HTML or plain text; the message
then carries the page's text, trimmed. Messages never include request
headers, so the key cannot leak from here; the backend scrubs them again.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from http import HTTPStatus

from imagegen_core import REDACTED, ErrorKind, ImageGenError
from imagegen_core.http import retry_after_seconds
from imagegen_openai._wire import ApiError, parse_error_body

__all__ = [
    "CONTENT_POLICY_CODES",
    "QUOTA_CODES",
    "error_for_api_error",
    "error_for_status",
    "kind_for",
    "parse_duration",
    "rate_limit_wait",
]

CONTENT_POLICY_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})

_MAX_DETAIL = 500
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)")
_TRY_AGAIN = re.compile(r"try again in\s+(\d+(?:\.\d+)?)\s*(ms|s|m)\b", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# "Incorrect API key provided: sk-abc1*****************wxyz." OpenAI echoes a rejected
# key with its ends showing; even those ends are not for logs.
_MASKED_KEY = re.compile(r"[^\s*]*\*{3,}[^\s.*]*")

_KIND_BY_STATUS = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.AUTHORIZATION,
    404: ErrorKind.INVALID_REQUEST,
    408: ErrorKind.TIMEOUT,
    413: ErrorKind.INVALID_REQUEST,
    415: ErrorKind.INVALID_REQUEST,
    422: ErrorKind.INVALID_REQUEST,
    429: ErrorKind.RATE_LIMIT,
    504: ErrorKind.TIMEOUT,
}


def parse_duration(value: str | None) -> float | None:
    """Seconds in an ``x-ratelimit-reset-*`` value (``1s``, ``6m0s``, ``20ms``, ``1h2m``).

    Anything else (including a bare number, which OpenAI does not send) gives None.
    """
    if value is None:
        return None
    text = value.strip()
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match[1]) * _UNIT_SECONDS[match[2]]
        position = match.end()
    return total if text and position == len(text) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def rate_limit_wait(headers: Mapping[str, str], message: str | None = None) -> float | None:
    """Seconds a throttled client should wait, from the headers or the message."""
    retry_ms = _header(headers, "retry-after-ms")
    if retry_ms is not None:
        try:
            seconds = float(retry_ms) / 1000
        except ValueError:
            seconds = -1.0
        if 0 <= seconds < float("inf"):
            return seconds
    from_header = retry_after_seconds(_header(headers, "Retry-After"))
    if from_header is not None:
        return from_header
    resets = []
    for limit in ("requests", "tokens"):
        remaining = _header(headers, f"x-ratelimit-remaining-{limit}")
        reset = parse_duration(_header(headers, f"x-ratelimit-reset-{limit}"))
        if reset is not None and remaining is not None and remaining.strip() == "0":
            resets.append(reset)
    if resets:
        return max(resets)
    if message and (match := _TRY_AGAIN.search(message)):
        return float(match[1]) * _UNIT_SECONDS[match[2]]
    return None


def kind_for(status: int | None, error: ApiError | None) -> ErrorKind:
    """The protocol kind of an error with this status and OpenAI error object."""
    code = (error.code or "") if error is not None else ""
    kind_text = (error.type or "") if error is not None else ""
    if code in QUOTA_CODES or kind_text in QUOTA_CODES:
        return ErrorKind.QUOTA
    if code in CONTENT_POLICY_CODES or "safety" in kind_text or "moderation" in kind_text:
        return ErrorKind.CONTENT_POLICY
    if code == "rate_limit_exceeded":
        return ErrorKind.RATE_LIMIT
    if code in {"invalid_api_key", "invalid_authentication"}:
        return ErrorKind.AUTHENTICATION
    if status is None:
        return ErrorKind.SERVER if kind_text == "server_error" else ErrorKind.UNKNOWN
    if status in _KIND_BY_STATUS:
        return _KIND_BY_STATUS[status]
    if status >= 500:
        return ErrorKind.SERVER
    return ErrorKind.INVALID_REQUEST if status >= 400 else ErrorKind.UNKNOWN


def error_for_api_error(
    error: ApiError | None,
    *,
    status: int | None,
    action: str,
    headers: Mapping[str, str] | None = None,
    detail: str | None = None,
) -> ImageGenError:
    """The error for an OpenAI error object (from a reply body or a stream ``error`` event)."""
    kind = kind_for(status, error)
    described = _describe(error) or detail or _reason(status)
    where = f"answered {status}" if status is not None else "reported an error"
    message = f"OpenAI {where} while {action}: {described}"
    retry_after = None
    if kind is ErrorKind.RATE_LIMIT:
        retry_after = rate_limit_wait(headers or {}, error.message if error else detail)
    elif kind is ErrorKind.SERVER and headers is not None:
        retry_after = retry_after_seconds(_header(headers, "Retry-After"))
    if kind is ErrorKind.AUTHENTICATION:
        message += " (check the API key, set by api_key or OPENAI_API_KEY)"
    retryable = False if kind in {ErrorKind.QUOTA, ErrorKind.CONTENT_POLICY} else None
    return ImageGenError(
        message,
        kind=kind,
        retryable=retryable,
        retry_after=retry_after,
        backend="openai",
        status=status,
    )


def error_for_status(
    status: int, headers: Mapping[str, str], body: str, *, action: str
) -> ImageGenError:
    """The error for an HTTP error reply, whatever its body's format."""
    document: object = None
    text = body.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
    error = parse_error_body(document) if document is not None else None
    detail = None if error is not None else _text_of(text)
    return error_for_api_error(error, status=status, action=action, headers=headers, detail=detail)


def _describe(error: ApiError | None) -> str | None:
    if error is None:
        return None
    message = _clean(error.message) if error.message else None
    code = error.code or error.type
    if message and code and code not in message:
        return f"{message} ({code})"
    return message or code


def _reason(status: int | None) -> str:
    if status is None:
        return "no explanation given"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no explanation given"


def _text_of(body: str) -> str | None:
    if not body:
        return None
    if body.lstrip().startswith("<"):
        body = html.unescape(_TAG.sub(" ", body))
    return _clean(body) or None


def _clean(text: str) -> str:
    text = _SPACE.sub(" ", _MASKED_KEY.sub(REDACTED, text)).strip()
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1].rstrip() + "…"
    return text
