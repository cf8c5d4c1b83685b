"""Request validation: prediction bodies and flux-schnell's input schema.

Replicate validates with a JSON Schema library whose messages are recognisable
in its 422 replies ("Must be less than or equal to 4", "prompt is required",
"Additional property model is not allowed", "... must be one of the
following: ..."). The emulator produces the same messages, types and body
shape, so a client's error handling meets the text it will meet in production.

The schema values are flux-schnell's as published on its model page; the
aspect-ratio table is the one its predictor uses, and megapixels ``"0.25"``
halves each side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imagegen_core import ImageSize, OutputFormat

__all__ = [
    "ASPECT_RATIOS",
    "FLUX_SCHNELL",
    "FluxSchnellInput",
    "InputValidationError",
    "InvalidField",
    "image_size",
    "validate_body",
    "validate_input",
]

FLUX_SCHNELL = "black-forest-labs/flux-schnell"
"""The model the emulator serves."""

ASPECT_RATIOS: Mapping[str, ImageSize] = {
    "1:1": ImageSize(1024, 1024),
    "16:9": ImageSize(1344, 768),
    "21:9": ImageSize(1536, 640),
    "3:2": ImageSize(1216, 832),
    "2:3": ImageSize(832, 1216),
    "4:5": ImageSize(896, 1088),
    "5:4": ImageSize(1088, 896),
    "3:4": ImageSize(896, 1152),
    "4:3": ImageSize(1152, 896),
    "9:16": ImageSize(768, 1344),
    "9:21": ImageSize(640, 1536),
}
"""flux-schnell's pixel size at one megapixel for each aspect ratio it accepts."""

_MEGAPIXELS = ("1", "0.25")
_OUTPUT_FORMATS = {"webp": OutputFormat.WEBP, "jpg": OutputFormat.JPEG, "png": OutputFormat.PNG}


def image_size(aspect_ratio: str, megapixels: str) -> ImageSize:
    """The size flux-schnell renders for ``aspect_ratio`` at ``megapixels``."""
    size = ASPECT_RATIOS[aspect_ratio]
    if megapixels == "0.25":
        return ImageSize(size.width // 2, size.height // 2)
    return size


@dataclass(frozen=True)
class InvalidField:
    """One validation failure, as Replicate lists it in ``invalid_fields``."""

    type: str
    field: str
    description: str

    def line(self) -> str:
        """The line of ``detail`` that describes this failure."""
        return f"- {self.field}: {self.description}" if self.field else f"- {self.description}"


class InputValidationError(ValueError):
    """The request body or its input breaks the schema (a 422)."""

    def __init__(self, fields: list[InvalidField]) -> None:
        super().__init__(self._detail(fields))
        self.fields = fields

    @staticmethod
    def _detail(fields: list[InvalidField]) -> str:
        return "".join(f"{f.line()}\n" for f in fields)

    @property
    def detail(self) -> str:
        """The human-readable summary, one ``- field: description`` line per failure."""
        return self._detail(self.fields)


@dataclass(frozen=True)
class FluxSchnellInput:
    """A validated flux-schnell input with defaults filled in."""

    prompt: str
    aspect_ratio: str = "1:1"
    num_outputs: int = 1
    num_inference_steps: int = 4
    output_format: str = "webp"
    output_quality: int = 80
    megapixels: str = "1"
    seed: int | None = None
    go_fast: bool = True
    disable_safety_checker: bool = False
    ignored: tuple[str, ...] = ()
    """Input keys the schema does not know; Replicate drops them silently."""

    @property
    def size(self) -> ImageSize:
        """Pixel size of every output."""
        return image_size(self.aspect_ratio, self.megapixels)

    @property
    def image_format(self) -> OutputFormat:
        """The encoded format of every output."""
        return _OUTPUT_FORMATS[self.output_format]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(field: str, expected: str, value: object) -> InvalidField:
    return InvalidField(
        "invalid_type", field, f"Invalid type. Expected: {expected}, given: {_json_type(value)}"
    )


@dataclass(frozen=True)
class _Property:
    type: str
    default: object = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()


_PROPERTIES: Mapping[str, _Property] = {
    "prompt": _Property("string"),
    "aspect_ratio": _Property("string", "1:1", choices=tuple(ASPECT_RATIOS)),
    "num_outputs": _Property("integer", 1, minimum=1, maximum=4),
    "num_inference_steps": _Property("integer", 4, minimum=1, maximum=4),
    "output_format": _Property("string", "webp", choices=tuple(_OUTPUT_FORMATS)),
    "output_quality": _Property("integer", 80, minimum=0, maximum=100),
    "megapixels": _Property("string", "1", choices=_MEGAPIXELS),
    "seed": _Property("integer"),
    "go_fast": _Property("boolean", True),
    "disable_safety_checker": _Property("boolean", False),
}


def _check(name: str, spec: _Property, value: object) -> tuple[object, InvalidField | None]:
    field = f"input.{name}"
    if _json_type(value) != spec.type:
        return value, _type_error(field, spec.type, value)
    if spec.type == "integer" and isinstance(value, int | float):
        number = int(value)
        if spec.minimum is not None and number < spec.minimum:
            return number, InvalidField(
                "number_gte", field, f"Must be greater than or equal to {spec.minimum}"
            )
        if spec.maximum is not None and number > spec.maximum:
            return number, InvalidField(
                "number_lte", field, f"Must be less than or equal to {spec.maximum}"
            )
        return number, None
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(f'"{c}"' for c in spec.choices)
        return value, InvalidField("enum", field, f"{name} must be one of the following: {allowed}")
    return value, None


def validate_input(raw: object) -> FluxSchnellInput:
    """Check ``raw`` against flux-schnell's schema and fill in defaults.

    Raises:
        InputValidationError: With every failure found, not only the first.
    """
    if not isinstance(raw, dict):
        raise InputValidationError([_type_error("input", "object", raw)])
    errors: list[InvalidField] = []
    values: dict[str, Any] = {}
    if "prompt" not in raw:
        errors.append(InvalidField("required", "input", "prompt is required"))
    for name, spec in _PROPERTIES.items():
        if name not in raw:
            continue
        value, error = _check(name, spec, raw[name])
        if error is not None:
            errors.append(error)
        else:
            values[name] = value
    if errors:
        raise InputValidationError(errors)
    ignored = tuple(sorted(key for key in raw if key not in _PROPERTIES))
    return FluxSchnellInput(**values, ignored=ignored)


def validate_body(
    body: object, *, required: tuple[str, ...], optional: frozenset[str]
) -> dict[str, Any]:
    """Check the top level of a create-prediction body.

    Raises:
        InputValidationError: A required key is missing, a key is unknown, or
            ``input`` is not an object.
    """
    if not isinstance(body, dict):
        raise InputValidationError([_type_error("", "object", body)])
    errors = [
        InvalidField("required", "", f"{key} is required") for key in required if key not in body
    ]
    allowed = set(required) | optional
    errors.extend(
        InvalidField(
            "additional_property_not_allowed", "", f"Additional property {key} is not allowed"
        )
        for key in body
        if key not in allowed
    )
    if "input" in body and not isinstance(body["input"], dict):
        errors.append(_type_error("input", "object", body["input"]))
    if "version" in body and not isinstance(body["version"], str):
        errors.append(_type_error("version", "string", body["version"]))
    if errors:
        raise InputValidationError(errors)
    return body
