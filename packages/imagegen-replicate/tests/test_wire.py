"""Replicate's replies are read into typed models once; every garbled shape is a clear error.

One test per class of malformed reply: each builds a reply that is otherwise
valid, breaks one thing, and checks the error's kind, that it is not retried,
what its message names, and that the value which broke it is not echoed.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from imagegen_core import ErrorKind, ImageGenError
from imagegen_replicate._outputs import OutputFile
from imagegen_replicate._wire import (
    RUNNING,
    Prediction,
    PredictionStatus,
    parse_prediction,
    parse_problem_json,
)

SECRET = "r8_SECRET_never_echoed_0123456789"
"""Planted in the broken field: a reply may echo anything, a token included."""

DELIVERY = "https://replicate.delivery/xezq/abc/out-0.webp"


def _valid(**changes: Any) -> dict[str, Any]:
    """A prediction reply as the API documents it (the shape the emulator sends)."""
    reply: dict[str, Any] = {
        "id": "gm3qorzdhgbfurvjtvhg6dckhu",
        "model": "black-forest-labs/flux-schnell",
        "version": "hidden",
        "input": {"prompt": "a lighthouse"},
        "logs": "",
        "output": [DELIVERY],
        "data_removed": False,
        "error": None,
        "status": "succeeded",
        "source": "api",
        "created_at": "2023-09-08T16:19:34.765994Z",
        "started_at": "2023-09-08T16:19:34.779176Z",
        "completed_at": "2023-09-08T16:19:34.791859Z",
        "urls": {
            "get": "https://api.replicate.com/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu",
            "cancel": "https://api.replicate.com/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu/cancel",
            "stream": "https://stream.replicate.com/v1/files/abc",
            "web": "https://replicate.com/p/gm3qorzdhgbfurvjtvhg6dckhu",
        },
        "metrics": {"predict_time": 0.012683, "total_time": 0.03},
    }
    reply.update(changes)
    return reply


def _parse(reply: Any) -> Prediction:
    return parse_prediction(json.dumps(reply), status=201, action="creating a prediction")


def _refused(body: str | bytes) -> ImageGenError:
    with pytest.raises(ImageGenError) as caught:
        parse_prediction(body, status=201, action="creating a prediction")
    error = caught.value
    assert error.kind is ErrorKind.SERVER
    assert error.retryable is False
    assert error.status == 201
    assert "Replicate answered 201 while creating a prediction" in error.message
    assert SECRET not in error.message
    assert error.__cause__ is None
    assert error.__suppress_context__
    return error


# -- what the docs allow is read -----------------------------------------------------


def test_a_documented_reply_is_read_into_fields() -> None:
    prediction = _parse(_valid())
    assert prediction.id == "gm3qorzdhgbfurvjtvhg6dckhu"
    assert prediction.status == "succeeded"
    assert not prediction.running
    assert prediction.files == (OutputFile(0, DELIVERY),)
    assert prediction.predict_time == pytest.approx(0.012683)
    assert prediction.version == "hidden"
    assert prediction.link("get") == _valid()["urls"]["get"]
    assert prediction.link("cancel") == _valid()["urls"]["cancel"]
    assert prediction.urls is not None
    assert prediction.urls.stream is not None


@pytest.mark.parametrize(
    "status", ["starting", "processing", "succeeded", "failed", "canceled", "aborted"]
)
def test_every_documented_status_is_read(status: PredictionStatus) -> None:
    prediction = _parse(_valid(status=status))
    assert prediction.status == status
    assert prediction.running is (status in RUNNING)


@pytest.mark.parametrize(
    ("output", "files"),
    [
        ([DELIVERY, "https://replicate.delivery/x/out-1.webp"], 2),
        (DELIVERY, 1),
        ({"url": DELIVERY}, 1),
        ([{"url": DELIVERY, "content_type": "image/webp"}], 1),
        (["data:image/png;base64," + base64.b64encode(b"png").decode()], 1),
        ([None, DELIVERY], 1),
        ([], 0),
        (None, 0),
    ],
    ids=["urls", "one url", "object", "objects", "data url", "placeholder", "empty", "null"],
)
def test_every_documented_output_shape_is_read(output: Any, files: int) -> None:
    assert len(_parse(_valid(output=output)).files) == files


def test_a_starting_reply_has_only_what_a_new_prediction_has() -> None:
    # What a create that outlived its sync wait answers: no output, empty
    # metrics, null logs and timestamps, no version for an official model.
    reply = {"id": "abc", "status": "starting", "output": None, "logs": None, "metrics": {}}
    prediction = _parse(reply)
    assert (prediction.files, prediction.predict_time, prediction.urls) == ((), None, None)
    assert prediction.link("get") is None
    assert prediction.data_removed is False
    assert _parse({**reply, "metrics": None, "urls": None}).predict_time is None


def test_fields_the_docs_do_not_list_are_ignored() -> None:
    reply = _valid(deadline="2026-01-01T00:00:00Z", deployment="acme/x", brand_new={"a": [1]})
    reply["metrics"]["image_count"] = 1
    reply["urls"]["future"] = "https://api.replicate.com/v1/x"
    assert _parse(reply).id == "gm3qorzdhgbfurvjtvhg6dckhu"


def test_an_integer_predict_time_is_a_number_too() -> None:
    assert _parse(_valid(metrics={"predict_time": 2})).predict_time == 2.0


# -- what they do not is refused, one class of garbling at a time ------------------------


@pytest.mark.parametrize(
    "body",
    [
        f"<html><title>{SECRET}</title></html>",
        '{"id": "abc", "status": "succe',
        b'{"id": "abc", "status": "\xff\xfe"}',
        "",
    ],
    ids=["html", "truncated", "not utf-8", "empty"],
)
def test_a_body_that_is_not_json(body: str | bytes) -> None:
    assert "it is not valid JSON" in _refused(body).message


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ([_valid()], "array"),
        (SECRET, "string"),
        (None, "null"),
        (42, "number"),
        (True, "boolean"),
    ],
)
def test_json_that_is_not_an_object(body: Any, named: str) -> None:
    assert f"it is a JSON {named}, not an object" in _refused(json.dumps(body)).message


def test_a_reply_without_an_id() -> None:
    reply = _valid()
    del reply["id"]
    assert "no prediction id" in _refused(json.dumps(reply)).message


@pytest.mark.parametrize(
    "bad_id",
    ["", "../../account", "abc/cancel", "abc?steal=1", f"{SECRET} x", "a" * 129],
    ids=["empty", "dot-dot", "slash", "query", "space", "too long"],
)
def test_an_id_that_could_change_the_path_it_is_put_in(bad_id: str) -> None:
    message = _refused(json.dumps(_valid(id=bad_id))).message
    assert "the prediction id is not a string of letters, digits" in message


def test_a_reply_without_a_status() -> None:
    reply = _valid()
    del reply["status"]
    assert "no 'status'" in _refused(json.dumps(reply)).message


@pytest.mark.parametrize("status", ["queued", "SUCCEEDED", SECRET])
def test_an_unknown_status(status: str) -> None:
    message = _refused(json.dumps(_valid(status=status))).message
    assert "status is none of 'starting', 'processing'" in message
    assert "'aborted'" in message


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"id": 12345}, "the prediction id"),
        ({"status": 1}, "status"),
        ({"error": {"message": SECRET}}, "error"),
        ({"logs": [SECRET]}, "logs"),
        ({"data_removed": "false"}, "data_removed"),
        ({"data_removed": 0}, "data_removed"),
        ({"urls": [SECRET]}, "urls"),
        ({"urls": {"get": 7}}, "urls.get"),
        ({"metrics": "fast"}, "metrics"),
        ({"metrics": {"predict_time": "0.5"}}, "metrics.predict_time"),
        ({"model": ["a", "b"]}, "model"),
    ],
    ids=lambda value: value if isinstance(value, str) else next(iter(value)),
)
def test_a_field_with_the_wrong_json_type(changes: dict[str, Any], named: str) -> None:
    # Strict: "0.5" is not a number and "false" is not a boolean, whatever lax
    # parsing would make of them; our logic reads these fields as their types.
    assert named in _refused(json.dumps(_valid(**changes))).message


@pytest.mark.parametrize(
    ("output", "said"),
    [
        (42, "an output is a int, not a file URL"),
        ({"text": SECRET}, "an output object has no 'url' (keys: text)"),
        ([{"url": None}], "an output object has no 'url'"),
        ([[DELIVERY]], "an output is a list, not a file URL"),
        (
            [f"file:///etc/{SECRET}"],
            "an output is not an http(s) or data: URL (its scheme is 'file')",
        ),
        ([SECRET], "an output is not an http(s) or data: URL"),
    ],
    ids=["number", "object without url", "null url", "nested list", "file url", "no scheme"],
)
def test_an_output_that_is_not_files(output: Any, said: str) -> None:
    message = _refused(json.dumps(_valid(output=output))).message
    assert "cannot read: output: " in message
    assert said in message


def test_many_faults_are_summed_up_not_listed_without_end() -> None:
    reply = {"id": 1, "status": 2, "error": 3, "logs": 4, "urls": 5, "metrics": 6}
    message = _refused(json.dumps(reply)).message
    assert message.endswith("and 3 more")
    assert message.count(";") == 3


# -- error replies are read liberally ---------------------------------------------------


def test_problem_json_fields_of_the_wrong_type_are_dropped_not_fatal() -> None:
    details = parse_problem_json(json.dumps({"title": 5, "detail": ["a"], "status": "422"}))
    assert details is not None
    assert (details.title, details.detail, details.status) == (None, None, None)
    details = parse_problem_json(json.dumps({"title": "Bad", "detail": " why ", "status": 422}))
    assert details is not None
    assert (details.title, details.detail, details.status) == ("Bad", " why ", 422)


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "not json", "{"])
def test_an_error_body_that_is_not_a_json_object_is_no_problem_json(body: str) -> None:
    assert parse_problem_json(body) is None


def test_invalid_fields_in_either_spelling() -> None:
    body = {
        "invalid_fields": [
            {"type": "number_lte", "field": "input.num_outputs", "description": "at most 4"},
            {"loc": ["body", "input", "seed"], "msg": "not an integer"},
            "a bare string",
            {"field": "input.x"},
        ]
    }
    details = parse_problem_json(json.dumps(body))
    assert details is not None
    assert [field.describe() for field in details.invalid_fields] == [
        "input.num_outputs: at most 4",
        "body.input.seed: not an integer",
        "a bare string",
        "input.x: invalid",
    ]
