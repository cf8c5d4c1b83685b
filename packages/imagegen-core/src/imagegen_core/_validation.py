"""Saying why pydantic refused something, in one wording everywhere.

Settings at construction, settings updates, requests built by the CLI and by
the Pipecat service are all validated by pydantic; each refusal reaches a
person as one line. Describing them here keeps that line the same whoever
raised it, and keeps the refused *input* out of it: an input may be a secret
(a token typed into the wrong field) or a prompt the user would rather not
see echoed in a log.
"""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["describe_validation"]

_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")
"""What pydantic puts before the message of a validator that raised; noise to a reader."""


def describe_validation(exc: ValidationError, whole: str = "settings") -> str:
    """Each refused field and why (``field: reason; ...``), never the input.

    Args:
        exc: pydantic's refusal.
        whole: What to call an error about the model as a whole (no field),
            such as ``"request"`` or ``"settings"``.
    """
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or whole
        message = error["msg"]
        for prefix in _PYDANTIC_PREFIXES:
            message = message.removeprefix(prefix)
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
