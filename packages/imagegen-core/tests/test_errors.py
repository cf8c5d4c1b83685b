"""ImageGenError and redact: one error type, and no credential in any message."""

from __future__ import annotations

import pickle

import pytest

from imagegen_core import ErrorKind, ImageGenError, redact
from imagegen_core._redaction import REDACTED


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_retryable_defaults_from_kind(kind: ErrorKind) -> None:
    expected = kind in {
        ErrorKind.RATE_LIMIT,
        ErrorKind.CONNECTIVITY,
        ErrorKind.TIMEOUT,
        ErrorKind.SERVER,
    }

    assert ImageGenError("x", kind=kind).retryable is expected


def test_retryable_can_be_overridden_and_kind_given_as_text() -> None:
    error = ImageGenError("x", kind="server", retryable=False)  # type: ignore[arg-type]

    assert error.kind is ErrorKind.SERVER
    assert error.retryable is False


def test_unknown_kind_text_is_rejected() -> None:
    with pytest.raises(ValueError, match="flaky"):
        ImageGenError("x", kind="flaky")  # type: ignore[arg-type]


def test_str_and_repr() -> None:
    error = ImageGenError(
        "slow down", kind=ErrorKind.RATE_LIMIT, retry_after=3.0, backend="replicate", status=429
    )

    assert str(error) == "[replicate] rate_limit: slow down"
    assert repr(error) == (
        "ImageGenError('slow down', kind='rate_limit', retryable=True, retry_after=3.0, "
        "backend='replicate', status=429)"
    )
    assert str(ImageGenError("plain")) == "unknown: plain"
    assert repr(ImageGenError("plain")) == "ImageGenError('plain', kind='unknown', retryable=False)"


def test_error_survives_pickling_with_every_field() -> None:
    error = ImageGenError(
        "quota gone",
        kind=ErrorKind.QUOTA,
        retryable=True,
        retry_after=60.0,
        backend="b",
        status=402,
    )

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert type(copy) is ImageGenError
    assert (
        copy.message,
        copy.kind,
        copy.retryable,
        copy.retry_after,
        copy.backend,
        copy.status,
    ) == (
        "quota gone",
        ErrorKind.QUOTA,
        True,
        60.0,
        "b",
        402,
    )
    assert str(copy) == str(error)


def test_redact_replaces_known_secrets_longest_first() -> None:
    text = "key abcdef and its prefix abcd"

    assert redact(text, ["abcd", "abcdef"]) == f"key {REDACTED} and its prefix {REDACTED}"


def test_redact_leaves_short_or_empty_secrets_alone() -> None:
    assert redact("a cat sat", ["a", "", "cat"]) == "a cat sat"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer r8_AbC123xyz987", f"Authorization: Bearer {REDACTED}"),
        ("header was 'token r8_longtokenvalue'", f"header was 'token {REDACTED}'"),
        ("BEARER abc.def-ghi_jkl", f"BEARER {REDACTED}"),
        ("a token is required", "a token is required"),
        ("token short", "token short"),
    ],
)
def test_redact_scrubs_bearer_shaped_text(text: str, expected: str) -> None:
    assert redact(text) == expected


class QuotaError(ImageGenError):
    """A backend's own subclass, as a third-party author might define one."""


def test_subclasses_keep_their_type_when_pickled() -> None:
    original = QuotaError("out of credit", kind=ErrorKind.QUOTA, retry_after=3.0, status=402)
    copy = pickle.loads(pickle.dumps(original))  # noqa: S301 - our own bytes

    assert type(copy) is QuotaError
    assert (copy.message, copy.kind, copy.retry_after, copy.status) == (
        "out of credit",
        ErrorKind.QUOTA,
        3.0,
        402,
    )
