"""Keeping credentials out of messages and out of what an error carries.

Backends build error messages from provider responses, and exceptions from
HTTP libraries sometimes quote request headers. Before any such text leaves a
backend (as an exception, a log line or a Pipecat ``ErrorFrame``) it passes
through :func:`redact` with the backend's secrets, and the error itself
through :func:`detach_secrets`, which cuts what its chain and tracebacks
would otherwise reveal.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable
from typing import TypeVar

__all__ = ["REDACTED", "detach_secrets", "redact"]

ErrorT = TypeVar("ErrorT", bound=BaseException)

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


def detach_secrets(error: ErrorT, secrets: Iterable[str]) -> ErrorT:
    """Make ``error`` safe to hand on when any of ``secrets`` may have been near it.

    Scrubbing an error's message is not enough: debuggers and error trackers
    (Sentry, ``traceback`` with ``capture_locals``) also walk the exceptions
    chained to it and show every frame's local variables, and the frames that
    built a request or read a provider's reply hold the credential, or the
    reply echoing it. So, in place:

    - every exception linked to ``error`` (``__cause__``, ``__context__``,
      the members of an exception group, all the way down) whose text,
      ``repr`` or attributes show a secret is cut from the chain;
    - the local variables of every frame in the tracebacks of ``error`` and of
      the links kept are cleared. The tracebacks themselves stay (file, line
      and function of each step); a frame still running, such as the caller's,
      cannot be cleared and keeps its variables.

    Nothing is done when there is no secret to protect.

    Returns:
        ``error`` itself, for ``raise detach_secrets(error, secrets)``.
    """
    known = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    if not known:
        return error
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        for link in ("__cause__", "__context__"):
            linked = getattr(current, link)
            if linked is None:
                continue
            if _reveals(linked, known):
                setattr(current, link, None)
            else:
                pending.append(linked)
        members = getattr(current, "exceptions", None)
        if isinstance(current, BaseExceptionGroup) and isinstance(members, tuple):
            pending.extend(members)
    return error


def _reveals(error: BaseException, secrets: list[str]) -> bool:
    """Whether an exception's message, ``repr``, arguments or attributes show a secret."""
    try:
        texts = [str(error), repr(error), repr(error.args), repr(getattr(error, "__dict__", {}))]
    except Exception:  # an exception whose repr fails cannot be shown safely either
        return True
    return any(secret in text for text in texts for secret in secrets)
