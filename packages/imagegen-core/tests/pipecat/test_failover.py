"""The failure policy: which error kinds make the service unusable, in Pipecat's categories."""

from __future__ import annotations

import pytest

from imagegen_core import ErrorKind, ImageGenError
from imagegen_core.pipecat import _compat as compat
from imagegen_core.pipecat._failover import FailurePolicy, failure_policy

PERMANENT = {
    ErrorKind.AUTHENTICATION,
    ErrorKind.AUTHORIZATION,
    ErrorKind.INVALID_REQUEST,
    ErrorKind.RATE_LIMIT,
    ErrorKind.QUOTA,
    ErrorKind.CONNECTIVITY,
    ErrorKind.TIMEOUT,
    ErrorKind.SERVER,
}


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_has_a_category_and_a_permanence(kind: ErrorKind) -> None:
    policy = failure_policy(ImageGenError("x", kind=kind))
    assert policy.permanent is (kind in PERMANENT)
    if compat.HAS_ERROR_CATEGORIES:
        from pipecat.utils.errors import ErrorCategory

        assert policy.category in ErrorCategory.__members__


def test_content_refusals_are_the_applications_concern() -> None:
    policy = failure_policy(ImageGenError("nsfw", kind=ErrorKind.CONTENT_POLICY))
    assert policy == FailurePolicy("APPLICATION", permanent=False)


def test_application_mistakes_never_make_the_service_unusable() -> None:
    error = ImageGenError("prompt must contain text", kind=ErrorKind.INVALID_REQUEST)
    assert failure_policy(error).permanent  # from the settings: permanent
    assert failure_policy(error, caused_by_application=True) == FailurePolicy(
        "APPLICATION", permanent=False
    )


def test_time_outs_are_reported_as_connectivity() -> None:
    assert failure_policy(ImageGenError("slow", kind=ErrorKind.TIMEOUT)).category == (
        "CONNECTIVITY"
    )
