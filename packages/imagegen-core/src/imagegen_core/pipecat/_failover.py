"""Which failures make the image service unusable, in Pipecat's vocabulary.

Pipecat's ``ServiceSwitcherStrategyFailover`` (1.8+) moves to the next
service when one marks itself unusable, and every ``ErrorFrame`` carries an
``ErrorCategory``. The backends speak :class:`~imagegen_core.ErrorKind`; this
module is the one table between the two. It names categories by string so
that it imports nothing from Pipecat and holds no version difference (the
shims in :mod:`imagegen_core.pipecat._compat` turn a name into the member the
installed release has).
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegen_core._errors import ErrorKind, ImageGenError

__all__ = ["FailurePolicy", "failure_policy"]


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """How one failure is reported to Pipecat.

    Args:
        category: Name of the ``ErrorCategory`` member the error frame carries.
        permanent: Whether the service is unusable after it, so that
            ``ServiceSwitcherStrategyFailover`` (1.8+) moves to the next service.
    """

    category: str
    permanent: bool


# Which failures say the *service* is broken, rather than the one request.
# Backends retry transient failures themselves (with tenacity), so a
# rate-limit, connectivity, time-out or server error reaching the service means
# those retries are spent: the provider is down for now, and failing over is
# what the user wants. Credentials, account and settings failures recur until
# someone changes something. Content refusals and unknown causes are about the
# one prompt.
_POLICY: dict[ErrorKind, FailurePolicy] = {
    ErrorKind.AUTHENTICATION: FailurePolicy("AUTHENTICATION", permanent=True),
    ErrorKind.AUTHORIZATION: FailurePolicy("AUTHORIZATION", permanent=True),
    ErrorKind.INVALID_REQUEST: FailurePolicy("INVALID_REQUEST", permanent=True),
    ErrorKind.CONTENT_POLICY: FailurePolicy("APPLICATION", permanent=False),
    ErrorKind.RATE_LIMIT: FailurePolicy("RATE_LIMIT", permanent=True),
    ErrorKind.QUOTA: FailurePolicy("QUOTA", permanent=True),
    ErrorKind.CONNECTIVITY: FailurePolicy("CONNECTIVITY", permanent=True),
    ErrorKind.TIMEOUT: FailurePolicy("CONNECTIVITY", permanent=True),
    ErrorKind.SERVER: FailurePolicy("SERVER", permanent=True),
    ErrorKind.CANCELED: FailurePolicy("UNKNOWN", permanent=False),
    ErrorKind.UNKNOWN: FailurePolicy("UNKNOWN", permanent=False),
}

_APPLICATION_MISTAKE = FailurePolicy("APPLICATION", permanent=False)


def failure_policy(error: ImageGenError, *, caused_by_application: bool = False) -> FailurePolicy:
    """The category and permanence the service reports ``error`` with.

    Args:
        error: The failure.
        caused_by_application: The application sent something unusable (a
            prompt that is empty or too long, a settings update that does not
            validate and was therefore not applied): the service itself is fine.
    """
    if caused_by_application:
        return _APPLICATION_MISTAKE
    return _POLICY[error.kind]
