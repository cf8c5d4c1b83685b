"""Error replies in every format become ImageGenError with Replicate's own detail."""

from __future__ import annotations

import json

import pytest

from imagegen_core import ErrorKind
from imagegen_replicate._problems import (
    error_for_status,
    kind_for_status,
    parse_problem,
    parse_retry_after,
)

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.INVALID_REQUEST),
        (401, ErrorKind.AUTHENTICATION),
        (402, ErrorKind.QUOTA),
        (403, ErrorKind.AUTHORIZATION),
        (404, ErrorKind.INVALID_REQUEST),
        (422, ErrorKind.INVALID_REQUEST),
        (429, ErrorKind.RATE_LIMIT),
        (500, ErrorKind.SERVER),
        (502, ErrorKind.SERVER),
        (503, ErrorKind.SERVER),
        (504, ErrorKind.TIMEOUT),
        (418, ErrorKind.INVALID_REQUEST),
    ],
)
def test_kind_for_status(status: int, kind: ErrorKind) -> None:
    assert kind_for_status(status) is kind


def test_problem_json_detail_is_in_the_message() -> None:
    body = json.dumps(
        {
            "title": "Input validation failed",
            "status": 422,
            "detail": "- input.num_outputs: Must be less than or equal to 4\n",
            "invalid_fields": [
                {
                    "type": "number_lte",
                    "field": "input.num_outputs",
                    "description": "Must be less than or equal to 4",
                }
            ],
        }
    )
    error = error_for_status(422, {"Content-Type": PROBLEM}, body, action="creating a prediction")
    assert error.kind is ErrorKind.INVALID_REQUEST
    assert error.status == 422
    assert not error.retryable
    assert "input.num_outputs: Must be less than or equal to 4" in error.message
    assert "Input validation failed" in error.message
    assert "creating a prediction" in error.message


def test_authentication_error_says_where_the_token_comes_from() -> None:
    body = json.dumps({"title": "Unauthenticated", "detail": "You did not pass a valid token"})
    error = error_for_status(401, {"content-type": PROBLEM}, body, action="polling")
    assert error.kind is ErrorKind.AUTHENTICATION
    assert "You did not pass a valid token" in error.message
    assert "REPLICATE_API_TOKEN" in error.message


def test_html_error_page_from_a_proxy() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
        "<style>body{color:red}</style></head><body><center><h1>502 Bad Gateway</h1>"
        "</center><hr><center>nginx</center></body></html>"
    )
    problem = parse_problem(page, "text/html")
    assert problem.title == "502 Bad Gateway"
    assert "color" not in (problem.detail or "")
    error = error_for_status(502, {"Content-Type": "text/html"}, page, action="polling")
    assert error.kind is ErrorKind.SERVER
    assert "502 Bad Gateway" in error.message
    assert "<" not in error.message


def test_plain_text_and_empty_bodies() -> None:
    assert parse_problem("upstream connect error", "text/plain").detail == "upstream connect error"
    error = error_for_status(503, {}, "", action="polling")
    assert "Service Unavailable" in error.message


def test_long_bodies_are_truncated() -> None:
    problem = parse_problem("x" * 10_000, "text/plain")
    assert problem.detail is not None
    assert len(problem.detail) <= 500


@pytest.mark.parametrize(
    ("headers", "detail", "expected"),
    [
        ({"Retry-After": "3"}, None, 3.0),
        ({"retry-after": "0.25"}, None, 0.25),
        ({}, "Request was throttled. Expected available in 1 second.", 1.0),
        ({}, "Request was throttled. Expected available in 12 seconds.", 12.0),
        ({}, "Request was throttled. Your rate limit resets in ~30s.", 30.0),
        ({}, "Your rate limit resets in 2 minutes", 120.0),
        ({"Retry-After": "soon"}, None, None),
        ({"Retry-After": "nan"}, None, None),
        ({}, "no numbers here", None),
        ({}, None, None),
    ],
)
def test_retry_after(headers: dict[str, str], detail: str | None, expected: float | None) -> None:
    assert parse_retry_after(headers, detail) == expected


def test_retry_after_http_date() -> None:
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}
    now = 1445412480.0  # 07:28:00 that day
    assert parse_retry_after(headers, now=now) == pytest.approx(10.0)


def test_429_carries_retry_after_from_header_or_body() -> None:
    body = json.dumps({"detail": "Request was throttled. Expected available in 2 seconds."})
    from_body = error_for_status(429, {"Content-Type": PROBLEM}, body, action="creating")
    assert (from_body.kind, from_body.retry_after, from_body.retryable) == (
        ErrorKind.RATE_LIMIT,
        2.0,
        True,
    )
    from_header = error_for_status(
        429, {"Content-Type": PROBLEM, "Retry-After": "5"}, body, action="creating"
    )
    assert from_header.retry_after == 5.0
