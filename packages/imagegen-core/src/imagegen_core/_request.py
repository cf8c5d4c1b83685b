"""The provider-neutral description of what to generate.

An :class:`ImageRequest` is validated once, when it is built, so that a bad
prompt or a malformed size fails before any backend opens a connection, with a
message that names the field. It is immutable: a backend can hold it across
retries and polls without defending against changes.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    field_validator,
    model_validator,
)

from imagegen_core._inputs import MAX_INPUT_IMAGES, ImageRole, InputImage
from imagegen_core._sizes import ImageSize

__all__ = [
    "MAX_IMAGES_PER_REQUEST",
    "MAX_PROMPT_LENGTH",
    "ImageRequest",
    "ImageSize",
    "OutputFormat",
    "parse_aspect_ratio",
]

MAX_PROMPT_LENGTH = 10_000
"""Longest prompt accepted, in characters. Providers cap prompts far below
this (by tokens); the limit exists to stop accidental megabyte prompts, such as
a whole transcript forwarded by mistake, before they reach the network."""

MAX_IMAGES_PER_REQUEST = 16
"""Upper bound on ``num_images`` before any backend's own, lower, limit applies."""

_ASPECT_RATIO = re.compile(r"^\s*(\d{1,4})\s*:\s*(\d{1,4})\s*$")


class OutputFormat(StrEnum):
    """Encoded file formats a request may ask for."""

    PNG = "png"
    JPEG = "jpeg"
    WEBP = "webp"

    @property
    def media_type(self) -> str:
        """The MIME type of files in this format."""
        return f"image/{self.value}"

    @classmethod
    def parse(cls, value: str) -> OutputFormat:
        """Read a format name the way people write it (``"JPG"``, ``"image/png"``).

        Raises:
            ValueError: The name is not a known format, or not a string.
        """
        if not isinstance(value, str):
            raise ValueError(f"output format must be a string, got {type(value).__name__}")
        return _parse_output_format(value)


@functools.lru_cache(maxsize=64)
def _parse_output_format(value: str) -> OutputFormat:
    """:meth:`OutputFormat.parse`, remembered: every request from the same settings asks again.

    An enum lookup and four string steps cost about 15 calls a prompt, twice
    (the service's settings check and the request's own validation); the
    cache is bounded, and failures are not cached.
    """
    name = value.strip().lower().removeprefix("image/").removeprefix(".")
    name = {"jpg": "jpeg"}.get(name, name)
    try:
        return OutputFormat(name)
    except ValueError:
        known = ", ".join(f.value for f in OutputFormat)
        raise ValueError(f"unknown output format {value!r}; expected one of: {known}") from None


class ReadOnlyOptions(dict[str, JsonValue]):
    """A ``dict`` that refuses changes: ``ImageRequest.options``.

    A dict subclass rather than a mapping proxy, so backends can hand it
    straight to ``json.dumps`` or an HTTP client as request input.
    """

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("ImageRequest.options is read-only; build a new request instead")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[ReadOnlyOptions], tuple[dict[str, JsonValue]]]:
        # Unpickling a dict subclass would call the refused __setitem__.
        return (ReadOnlyOptions, (dict(self),))

    def __copy__(self) -> ReadOnlyOptions:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> ReadOnlyOptions:
        return ReadOnlyOptions(copy.deepcopy(dict(self), memo))


def _copy_json(value: Any) -> Any:
    """A deep copy of a JSON value, several times faster than :func:`copy.deepcopy`.

    Options are validated as JSON values, so only dicts and lists need
    copying; strings, numbers, booleans and None are immutable. Anything else
    (never expected here) falls back to ``deepcopy``. Every request built
    from Pipecat settings passes through this (benchmarks/suite.py).
    """
    if value.__class__ in _IMMUTABLE_JSON:
        return value
    if isinstance(value, dict):
        # Scalars are taken as they are without a call each: most options are.
        return {
            key: item if item.__class__ in _IMMUTABLE_JSON else _copy_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [item if item.__class__ in _IMMUTABLE_JSON else _copy_json(item) for item in value]
    if isinstance(value, str | int | float | bool):  # a subclass, such as a StrEnum member
        return value
    return copy.deepcopy(value)


_IMMUTABLE_JSON = frozenset({str, int, float, bool, type(None)})
"""The JSON scalar types exactly (not their subclasses): copied by reference."""


def parse_aspect_ratio(value: str) -> tuple[int, int]:
    """Split ``"16:9"`` into ``(16, 9)``.

    Raises:
        ValueError: The value is not ``W:H`` with positive whole numbers.
    """
    match = _ASPECT_RATIO.match(value)
    if match is None or int(match[1]) == 0 or int(match[2]) == 0:
        raise ValueError(
            f"aspect ratio {value!r} is not of the form W:H "
            "with positive whole numbers, e.g. '16:9'"
        )
    return int(match[1]), int(match[2])


def _check_encodable(field: str, text: str) -> None:
    """Refuse text no provider can receive: a lone surrogate has no UTF-8 encoding.

    Python strings can hold one (decoded with ``surrogateescape``, or cut from
    a longer text); JSON encoders then write an escape the provider reads as
    garbage or refuses, so the failure would surface as the provider's.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{field} holds a character with no UTF-8 encoding (a lone surrogate, "
            f"at position {exc.start})"
        ) from None


class ImageRequest(BaseModel):
    """What to generate, in terms every backend understands.

    Settings a backend cannot honour are not errors here: the backend's
    :class:`~imagegen_core.Capabilities` turn them into warnings on the
    generation (or errors in strict mode). ``options`` carries backend-specific
    inputs through untouched, for example Replicate's ``num_inference_steps``.

    ``images`` and ``mask`` turn generation into editing: they are never
    ignored, so a backend that cannot use one refuses the request (see
    :meth:`Capabilities.check`). The mask applies to :attr:`edit_image` and
    must have its size; its own ``role`` is not used.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    prompt: Annotated[str, Field(description="What the image should show.")]
    negative_prompt: str | None = Field(default=None, description="What the image should not show.")
    num_images: int = Field(
        default=1,
        strict=True,
        ge=1,
        le=MAX_IMAGES_PER_REQUEST,
        description="How many images to generate in this call.",
    )
    aspect_ratio: str | None = Field(default=None, description="Width:height ratio such as '16:9'.")
    size: ImageSize | None = Field(default=None, description="Exact pixel size, e.g. '1024x768'.")
    seed: int | None = Field(
        default=None, strict=True, ge=0, le=2**63 - 1, description="Seed for reproducible output."
    )
    output_format: OutputFormat | None = Field(
        default=None, description="Encoded file format wanted."
    )
    quality: int | None = Field(
        default=None, strict=True, ge=0, le=100, description="Encoder quality, 0-100."
    )
    options: Annotated[Mapping[str, JsonValue], PlainSerializer(dict)] = Field(
        default_factory=dict,
        description="Backend-specific inputs, passed through unchanged.",
    )
    images: tuple[InputImage, ...] = Field(
        default=(),
        max_length=MAX_INPUT_IMAGES,
        description="Images for the model: the one to edit, references (see InputImage.role).",
    )
    mask: InputImage | None = Field(
        default=None,
        description="Where to edit the first 'edit' image: white repaints, black keeps.",
    )

    @property
    def edit_image(self) -> InputImage | None:
        """The first image with the ``edit`` role (the one a mask applies to), if any."""
        return next((image for image in self.images if image.role is ImageRole.EDIT), None)

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("prompt must contain text, not only whitespace")
        if len(prompt) > MAX_PROMPT_LENGTH:
            raise ValueError(
                f"prompt is {len(prompt)} characters long; the maximum is {MAX_PROMPT_LENGTH}"
            )
        _check_encodable("prompt", prompt)
        return prompt

    @field_validator("negative_prompt")
    @classmethod
    def _check_negative_prompt(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if len(value) > MAX_PROMPT_LENGTH:
            raise ValueError(
                f"negative_prompt is {len(value)} characters long; "
                f"the maximum is {MAX_PROMPT_LENGTH}"
            )
        _check_encodable("negative_prompt", value)
        return value

    @field_validator("aspect_ratio")
    @classmethod
    def _check_aspect_ratio(cls, value: str | None) -> str | None:
        if value is None:
            return None
        width, height = parse_aspect_ratio(value)
        return f"{width}:{height}"

    @field_validator("size", mode="before")
    @classmethod
    def _check_size(cls, value: Any) -> ImageSize | None:
        if value is None:
            return None
        if isinstance(value, list):
            value = tuple(value)
        return ImageSize.parse(value)

    @field_validator("output_format", mode="before")
    @classmethod
    def _check_output_format(cls, value: Any) -> OutputFormat | None:
        if value is None or isinstance(value, OutputFormat):
            return value
        return OutputFormat.parse(value)

    @field_validator("options")
    @classmethod
    def _freeze_options(cls, value: Mapping[str, JsonValue]) -> Mapping[str, JsonValue]:
        # A read-only deep copy: neither the caller mutating its dict later nor
        # a backend writing into the request can change a request in flight.
        return ReadOnlyOptions(_copy_json(dict(value)))

    @model_validator(mode="after")
    def _one_way_to_shape(self) -> Self:
        if self.aspect_ratio is not None and self.size is not None:
            raise ValueError("give aspect_ratio or size, not both")
        return self

    @model_validator(mode="after")
    def _mask_fits_its_image(self) -> Self:
        if self.mask is None:
            return self
        target = self.edit_image
        if target is None:
            raise ValueError("a mask needs an image with role 'edit' to apply to")
        if target.size is not None and self.mask.size is not None and target.size != self.mask.size:
            raise ValueError(
                f"the mask is {self.mask.size} but the image it applies to is {target.size}"
            )
        return self
