"""Keeping credentials out of messages.

Backends build error messages from provider responses, and exceptions from
HTTP libraries sometimes quote request headers. Before any such text leaves a
backend (as an exception, a log line or a Pipecat ``ErrorFrame``) it passes
through :func:`redact` with the backend's secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "redact"]

REDACTED = "[REDACTED]"

_BEARER = re.compile(r"(?i)(bearer|token)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every known secret, and anything shaped like a bearer token, in ``text``.

    Secrets shorter than four characters are not replaced: they would shred
    ordinary words and cannot be meaningful credentials anyway.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", text)
