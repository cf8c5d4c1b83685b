"""Replicate's replies as typed models, checked once where they arrive.

A reply is untrusted input: the transport hands its bytes to
:func:`parse_prediction` (successful replies) or :func:`parse_problem_json`
(error replies), and the rest of the backend reads attributes of the result,
never keys of a dict. What Replicate's HTTP API documents is modelled here;
where its documentation is silent, the choice made is written next to the field.

Two rules decide how strict each field is:

- Fields the backend's logic depends on (``id``, ``status``, ``output``,
  ``error``, ``data_removed``, ``urls``, ``metrics.predict_time``, ``logs``)
  must have their documented JSON type, checked strictly (no ``"1"`` for
  ``1``). A successful reply that breaks this is a garbled reply: it becomes
  an :class:`~imagegen_core.ImageGenError` of kind ``server``, not retryable
  (the create it answers may have been billed, and a poll that returns the
  same garbage again gains nothing), whose message names what was wrong and
  never the values it held.
- Fields the documentation lists but the backend does not read, and fields it
  does not list at all, are ignored: Replicate adds fields over time
  (``deadline``, ``source``, ``deployment``...) and one more must never break
  a generation.

Error replies are read liberally instead (:class:`ProblemDetails`): the HTTP
status already says what went wrong, so a body that is not quite
problem+json only loses its detail, it never hides the error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
)

from imagegen_core import ErrorKind, ImageGenError
from imagegen_replicate._outputs import OutputFile, UnexpectedOutput, output_files

__all__ = [
    "RUNNING",
    "FileUrls",
    "InvalidField",
    "Prediction",
    "PredictionMetrics",
    "PredictionStatus",
    "PredictionUrls",
    "ProblemDetails",
    "UploadedFile",
    "parse_prediction",
    "parse_problem_json",
    "parse_reply",
]

PredictionStatus = Literal["starting", "processing", "succeeded", "failed", "canceled", "aborted"]
"""Every status the prediction lifecycle documents; any other is a garbled reply.

An unknown status is refused rather than waited on: the backend could neither
tell whether it is still running nor whether it will ever produce images.
"""

RUNNING: frozenset[PredictionStatus] = frozenset({"starting", "processing"})
"""The statuses of a prediction that may still produce output (and costs money)."""

_PREDICTION_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
# The docs never say what an id may contain; every id they show, and every id
# the API has been seen to return, is 26 lowercase base-32 characters. An id is
# put into the path of authenticated requests when the reply's links cannot be
# used, so anything that could change that path ("/", "?", "..") is refused.

_MAX_PROBLEMS_SHOWN = 3

_ReplyT = TypeVar("_ReplyT", bound=BaseModel)


class _Reply(BaseModel):
    """A piece of a reply: JSON types checked strictly, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class PredictionUrls(_Reply):
    """The prediction's ``urls``: its own API links (followed only on the API's origin)."""

    get: str | None = None
    cancel: str | None = None
    stream: str | None = None
    """Server-sent events of the output, for models that stream (not used yet)."""
    web: str | None = None


class PredictionMetrics(_Reply):
    """The prediction's ``metrics``; only terminal predictions carry any.

    ``predict_time`` is documented as a number of seconds; the docs do not say
    whether it may be ``null``, so ``null`` is taken as absent.
    """

    predict_time: float | None = None
    total_time: float | None = None


def _files(value: Any) -> tuple[OutputFile, ...]:
    try:
        return tuple(output_files(value))
    except UnexpectedOutput as exc:
        raise ValueError(str(exc)) from None


class Prediction(_Reply):
    """A prediction object, as ``predictions.create``, ``.get`` and ``.cancel`` return it.

    ``output`` is read into :attr:`files` here, in every shape the docs and
    image models use (a list of URLs, one URL string, objects with a ``url``,
    ``data:`` URLs from sync mode, ``null`` placeholders that keep positions,
    or ``null`` for no output yet), so a non-file output is refused with the
    reply rather than later.
    """

    id: Annotated[str, StringConstraints(pattern=_PREDICTION_ID)]
    status: PredictionStatus
    model: str | None = None
    version: str | None = None
    """The version id; official models answer ``"hidden"`` or leave it out."""
    files: Annotated[tuple[OutputFile, ...], PlainValidator(_files)] = Field(
        default=(), validation_alias="output"
    )
    error: str | None = None
    logs: str | None = None
    data_removed: bool = False
    """Documented as a boolean; a reply without it is taken as ``false``."""
    metrics: PredictionMetrics | None = None
    urls: PredictionUrls | None = None
    created_at: str | None = None
    # Timestamps stay strings: nothing here computes with them, and a format
    # the docs do not pin down (fraction digits, offset) must not fail a reply.
    started_at: str | None = None
    completed_at: str | None = None

    @property
    def running(self) -> bool:
        """Whether the prediction may still produce output (``starting`` or ``processing``)."""
        return self.status in RUNNING

    @property
    def predict_time(self) -> float | None:
        """Seconds of model run time Replicate bills for, once it reports them."""
        return self.metrics.predict_time if self.metrics is not None else None

    def link(self, which: Literal["get", "cancel"]) -> str | None:
        """The reply's own ``get`` or ``cancel`` link, if it gave one."""
        if self.urls is None:
            return None
        return self.urls.get if which == "get" else self.urls.cancel


class FileUrls(_Reply):
    """An uploaded file's ``urls``: ``get`` is what a prediction input names it by."""

    get: Annotated[str, StringConstraints(pattern=r"^https?://")]


class UploadedFile(_Reply):
    """A file of the files API, as ``POST /files`` returns it (the fields this backend reads).

    The id goes into the path of ``DELETE /files/{id}``, so it is held to the
    same alphabet as a prediction id.
    """

    id: Annotated[str, StringConstraints(pattern=_PREDICTION_ID)]
    urls: FileUrls
    expires_at: str | None = None


def parse_prediction(body: bytes | str, *, status: int, action: str) -> Prediction:
    """The prediction in a successful reply.

    Args:
        body: The reply body as received.
        status: Its HTTP status, for the message.
        action: What the request was doing ("polling prediction ..."), for the message.

    Raises:
        ImageGenError: ``server``, not retryable: the body is not JSON, not a
            JSON object, or not a prediction as the API documents it.
    """
    return parse_reply(body, Prediction, status=status, action=action)


def parse_reply(body: bytes | str, model: type[_ReplyT], *, status: int, action: str) -> _ReplyT:
    """A successful reply read into ``model``, or the ``server`` error saying what was wrong."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ImageGenError(
            f"Replicate answered {status} while {action} with a reply this backend "
            f"cannot read: {_describe(exc)}",
            kind=ErrorKind.SERVER,
            retryable=False,
            status=status,
        ) from None


def _describe(exc: ValidationError) -> str:
    """What was wrong with a reply, by field, without any value it held.

    Values are left out because a reply is untrusted: whatever it echoes
    (a header, a prompt) has no business in an error message or a log.
    """
    parts = []
    errors = exc.errors(include_url=False)
    for error in errors[:_MAX_PROBLEMS_SHOWN]:
        where = ".".join(str(part) for part in error["loc"])
        kind = error["type"]
        if kind == "json_invalid":
            parts.append("it is not valid JSON")
        elif kind == "model_type" and not where:
            parts.append(f"it is a JSON {_json_type(error['input'])}, not an object")
        elif kind == "missing":
            parts.append("no prediction id" if where == "id" else f"no {where!r}")
        elif where == "id":
            parts.append("the prediction id is not a string of letters, digits, '-' and '_'")
        elif kind == "literal_error" and where == "status":
            parts.append(f"status is none of {error['msg'].removeprefix('Input should be ')}")
        else:
            parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    if len(errors) > _MAX_PROBLEMS_SHOWN:
        parts.append(f"and {len(errors) - _MAX_PROBLEMS_SHOWN} more")
    return "; ".join(parts)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


# -- error replies ---------------------------------------------------------------


def _text_or_none(value: object) -> object:
    # Liberal: a field of an error body with the wrong type is dropped, not fatal.
    return value if isinstance(value, str) and value.strip() else None


def _int_or_none(value: object) -> object:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_Text = Annotated[str | None, BeforeValidator(_text_or_none)]


def _field_or_none(value: object) -> object:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and value:
        return ".".join(str(part) for part in value)  # pydantic-style ``loc``
    return None


class InvalidField(BaseModel):
    """One entry of a 422 reply's ``invalid_fields``.

    Replicate documents ``field``, ``type`` and ``description``; replies from
    pydantic-based services in front of it use ``loc`` and ``msg`` for the same.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    field: Annotated[str | None, BeforeValidator(_field_or_none)] = None
    loc: Annotated[str | None, BeforeValidator(_field_or_none)] = None
    description: _Text = None
    msg: _Text = None
    type: _Text = None

    def describe(self) -> str:
        """``field: why`` (or only why, when no field is named)."""
        where = self.field or self.loc
        why = self.description or self.msg or self.type
        why = why or "invalid"
        return f"{where}: {why}" if where else why


def _invalid_fields(value: object) -> object:
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, dict) else {"description": str(item)} for item in value]


class ProblemDetails(BaseModel):
    """An error reply's JSON: RFC 9457 problem+json (``title``, ``detail``, ``status``).

    Throttling replies have been plain ``{"detail": ...}``, and some services
    say ``error``; all of those are read. Nothing here is strict.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: _Text = None
    detail: _Text = None
    status: Annotated[int | None, BeforeValidator(_int_or_none)] = None
    error: _Text = None
    invalid_fields: Annotated[tuple[InvalidField, ...], BeforeValidator(_invalid_fields)] = ()


def parse_problem_json(body: str) -> ProblemDetails | None:
    """The problem details in an error body, or ``None`` if it is not a JSON object."""
    try:
        return ProblemDetails.model_validate_json(body)
    except ValidationError:
        return None
