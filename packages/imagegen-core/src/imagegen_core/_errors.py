"""One exception type for every backend failure.

Callers (the Pipecat service, failover logic, retry policies) should never have
to know which provider failed or which HTTP library it used. Every backend
therefore raises :class:`ImageGenError` and says *why* through a
:class:`ErrorKind`; the Pipecat layer maps that kind onto Pipecat's own error
categories so ``ServiceSwitcher`` failover works the same for every backend.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

__all__ = ["ErrorKind", "ImageGenError"]


class ErrorKind(StrEnum):
    """Why a generation failed, independent of the backend that failed it."""

    AUTHENTICATION = "authentication"
    """Credentials are missing or were rejected."""
    AUTHORIZATION = "authorization"
    """Credentials are valid but may not use this model or resource."""
    INVALID_REQUEST = "invalid_request"
    """The request itself is wrong (bad input, unknown model): retrying will not help."""
    CONTENT_POLICY = "content_policy"
    """The provider refused the prompt or withheld the output on content grounds."""
    RATE_LIMIT = "rate_limit"
    """Too many requests in a window; waiting helps."""
    QUOTA = "quota"
    """The account is out of credit or allowance."""
    CONNECTIVITY = "connectivity"
    """The provider could not be reached or the connection broke."""
    TIMEOUT = "timeout"
    """The work did not finish within the deadline."""
    SERVER = "server"
    """The provider failed internally."""
    CANCELED = "canceled"
    """The work was canceled (by us or on the provider's side)."""
    UNKNOWN = "unknown"
    """The cause could not be determined."""

    @property
    def retryable_by_default(self) -> bool:
        """Whether trying the same request again may succeed without changing anything."""
        return self in _RETRYABLE_KINDS


_RETRYABLE_KINDS = frozenset(
    {
        ErrorKind.RATE_LIMIT,
        ErrorKind.CONNECTIVITY,
        ErrorKind.TIMEOUT,
        ErrorKind.SERVER,
    }
)


class ImageGenError(Exception):
    """The single error type every backend raises.

    The message is meant for people and must never contain a credential:
    backends build it from the provider's problem detail, not from request
    headers. ``retryable`` defaults from the kind and may be overridden when the
    backend knows better (a 500 on a non-idempotent request, say).

    Args:
        message: What went wrong, including the provider's own detail.
        kind: Why it went wrong.
        retryable: Whether the same request may succeed later. Defaults from ``kind``.
        retry_after: Seconds the provider asked us to wait, if it said.
        backend: Name of the backend that raised it, when known.
        status: The provider's HTTP status, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind = ErrorKind.UNKNOWN,
        retryable: bool | None = None,
        retry_after: float | None = None,
        backend: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = ErrorKind(kind)
        self.retryable = self.kind.retryable_by_default if retryable is None else retryable
        self.retry_after = retry_after
        self.backend = backend
        self.status = status

    def copy_with(self, **changes: Any) -> Self:
        """A copy of this error with some fields changed: the one way to derive an error.

        Scrubbing a message, marking an error not retryable or filling in the
        backend's name all go through here, so no field is forgotten when one
        is added. The copy keeps the error's class; ``retryable`` is kept as
        it is unless changed (it does not re-default from a changed ``kind``).

        Args:
            **changes: New values for ``message``, ``kind``, ``retryable``,
                ``retry_after``, ``backend`` or ``status``.

        Raises:
            TypeError: A name that is not one of those fields.
        """
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError(f"ImageGenError has no field {sorted(unknown)[0]!r}")
        fields = {name: getattr(self, name) for name in _FIELDS} | changes
        copy = type(self).__new__(type(self))
        ImageGenError.__init__(copy, fields.pop("message"), **fields)
        return copy

    def __str__(self) -> str:
        prefix = f"[{self.backend}] " if self.backend else ""
        return f"{prefix}{self.kind.value}: {self.message}"

    def __repr__(self) -> str:
        parts = [repr(self.message), f"kind={self.kind.value!r}", f"retryable={self.retryable}"]
        if self.retry_after is not None:
            parts.append(f"retry_after={self.retry_after}")
        if self.backend is not None:
            parts.append(f"backend={self.backend!r}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments do not survive the default exception pickling;
        # the class travels too, so subclasses keep their type.
        return (_rebuild_error, (type(self), {name: getattr(self, name) for name in _FIELDS}))


_FIELDS = ("message", "kind", "retryable", "retry_after", "backend", "status")
"""The fields that make an error; :meth:`ImageGenError.copy_with` and pickling carry them all."""


def _rebuild_error(cls: type[ImageGenError], fields: dict[str, Any]) -> ImageGenError:
    error = cls.__new__(cls)
    state = dict(fields)
    ImageGenError.__init__(error, state.pop("message"), **state)
    return error
