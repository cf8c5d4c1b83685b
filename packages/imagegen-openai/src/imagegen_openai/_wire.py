"""OpenAI's replies as pydantic models, validated once at the edge.

Everything the API sends is untrusted: a reply that does not have the shape
below is a ``server`` error naming what was wrong, never a ``KeyError`` deep
in the backend. Unknown fields are ignored (the API adds fields over time);
known fields are checked for type.

Shapes, from the Images API reference: the JSON reply ``{"created", "data":
[{"b64_json" | "url", "revised_prompt"}], "usage", "background",
"output_format", "quality", "size"}``; the stream events
``image_generation.partial_image`` / ``image_edit.partial_image`` (``b64_json``,
``partial_image_index``, ...) and ``image_generation.completed`` /
``image_edit.completed`` (``b64_json``, ``usage``, ...); the error body
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from imagegen_core import ErrorKind, ImageGenError

__all__ = [
    "ApiError",
    "ErrorBody",
    "ImageData",
    "ImagesReply",
    "StreamEvent",
    "Usage",
    "parse_reply",
    "parse_stream_event",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class InputTokensDetails(_Wire):
    """Input tokens split by kind."""

    text_tokens: int | None = None
    image_tokens: int | None = None


class Usage(_Wire):
    """Token usage of a GPT image generation (what it is billed on)."""

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)
    input_tokens_details: InputTokensDetails | None = None

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for ``GeneratedImage.metadata["usage"]``."""
        return self.model_dump(exclude_none=True)


class ImageData(_Wire):
    """One entry of ``data``: the image inline or as a link."""

    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class ImagesReply(_Wire):
    """The JSON reply of ``/images/generations`` and ``/images/edits``."""

    created: int | None = None
    data: list[ImageData] = Field(default_factory=list)
    usage: Usage | None = None
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None


class ApiError(_Wire):
    """The ``error`` object of an error body."""

    message: str | None = None
    type: str | None = None
    param: str | None = None
    code: str | None = None


class ErrorBody(_Wire):
    """``{"error": {...}}``."""

    error: ApiError


EventType = Literal[
    "image_generation.partial_image",
    "image_generation.completed",
    "image_edit.partial_image",
    "image_edit.completed",
    "error",
]


class StreamEvent(_Wire):
    """One server-sent event of a streamed generation or edit."""

    type: EventType
    b64_json: str | None = None
    partial_image_index: int | None = Field(default=None, ge=0)
    usage: Usage | None = None
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None
    created_at: int | None = None
    error: ApiError | None = None

    @property
    def is_partial(self) -> bool:
        """A preview, not a final image."""
        return self.type.endswith(".partial_image")

    @property
    def is_completed(self) -> bool:
        """A final image."""
        return self.type.endswith(".completed")


def _malformed(what: str, exc: ValidationError) -> ImageGenError:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "reply"
    return ImageGenError(
        f"OpenAI's {what} is malformed ({where}: {first['msg']})",
        kind=ErrorKind.SERVER,
        retryable=False,
        backend="openai",
    )


def parse_reply(document: object) -> ImagesReply:
    """Validate a JSON reply.

    Raises:
        ImageGenError: ``server`` when it does not have the documented shape.
    """
    try:
        return ImagesReply.model_validate(document)
    except ValidationError as exc:
        raise _malformed("reply", exc) from None


def parse_stream_event(document: object) -> StreamEvent:
    """Validate one stream event's ``data``.

    Raises:
        ImageGenError: ``server`` when it is not one of the documented events.
    """
    try:
        return StreamEvent.model_validate(document)
    except ValidationError as exc:
        raise _malformed("stream event", exc) from None


def parse_error_body(document: object) -> ApiError | None:
    """The ``error`` object of an error reply, or None when the body has another shape."""
    try:
        return ErrorBody.model_validate(document).error
    except ValidationError:
        return None
