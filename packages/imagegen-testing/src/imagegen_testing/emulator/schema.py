"""Request validation: prediction bodies, and model inputs against their OpenAPI schema.

Replicate validates with a JSON Schema library whose messages are recognisable
in its 422 replies ("Must be less than or equal to 4", "prompt is required",
"Additional property model is not allowed", "... must be one of the
following: ..."). The emulator produces the same messages, types and body
shape, so a client's error handling meets the text it will meet in production.

Inputs are checked against the very schema the model/version endpoints serve
(``components.schemas.Input`` as Cog writes it: ``x-order``, ``default``,
``nullable``, ``format: uri``, enums behind ``allOf``/``$ref``), so what a
client reads from the schema and what the emulator enforces cannot drift.
Messages for ``format`` and ``maxItems`` failures are the emulator's guess in
the same style (no recorded reply shows them).

The aspect-ratio table is the one flux-schnell's predictor uses, and
megapixels ``"0.25"`` halves each side.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from imagegen_core import ImageSize, OutputFormat

__all__ = [
    "ASPECT_RATIOS",
    "FLUX_SCHNELL",
    "OUTPUT_FORMATS",
    "InputValidationError",
    "InvalidField",
    "ModelInput",
    "image_size",
    "validate_body",
    "validate_input",
]

FLUX_SCHNELL = "black-forest-labs/flux-schnell"
"""The model the emulator serves by default (and the backend's default model)."""

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

OUTPUT_FORMATS: Mapping[str, OutputFormat] = {
    "webp": OutputFormat.WEBP,
    "jpg": OutputFormat.JPEG,
    "png": OutputFormat.PNG,
}
"""Replicate's spelling of each output format (``jpg``, not ``jpeg``)."""

_REF_PREFIX = "#/components/schemas/"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S")


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
class ModelInput(Mapping[str, Any]):
    """A validated input: every property the schema knows, defaults filled in.

    Read it like the JSON object it came from (``options["num_outputs"]``);
    properties without a default that were not sent are absent.
    """

    checked: Mapping[str, Any]
    ignored: tuple[str, ...] = ()
    """Input keys the schema does not know; Replicate drops them silently."""

    def __getitem__(self, name: str) -> Any:
        return self.checked[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.checked)

    def __len__(self) -> int:
        return len(self.checked)


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


def _is_uri(value: str) -> bool:
    # What gojsonschema's "uri" format accepts, near enough: a scheme, then anything.
    return bool(_URI.match(value))


def _resolve(spec: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    """A property schema with Cog's ``allOf: [{$ref: ...}]`` enum reference folded in."""
    merged = dict(spec)
    for part in spec.get("allOf", ()):
        ref = part.get("$ref", "")
        if ref.startswith(_REF_PREFIX):
            merged = {**components[ref.removeprefix(_REF_PREFIX)], **merged}
    merged.pop("allOf", None)
    return merged


def _check(
    name: str, field: str, spec: Mapping[str, Any], value: object, components: Mapping[str, Any]
) -> tuple[object, list[InvalidField]]:
    spec = _resolve(spec, components)
    expected = spec.get("type", "string")
    if value is None and spec.get("nullable"):
        return None, []
    given = _json_type(value)
    if given != expected and not (expected == "number" and given == "integer"):
        return value, [_type_error(field, expected, value)]
    if expected in {"integer", "number"} and isinstance(value, int | float):
        number: int | float = int(value) if expected == "integer" else value
        minimum, maximum = spec.get("minimum"), spec.get("maximum")
        if minimum is not None and number < minimum:
            return number, [
                InvalidField("number_gte", field, f"Must be greater than or equal to {minimum}")
            ]
        if maximum is not None and number > maximum:
            return number, [
                InvalidField("number_lte", field, f"Must be less than or equal to {maximum}")
            ]
        return number, []
    if expected == "array" and isinstance(value, list):
        items = spec.get("items", {})
        checked: list[object] = []
        errors: list[InvalidField] = []
        for index, item in enumerate(value):
            item_value, item_errors = _check(name, f"{field}.{index}", items, item, components)
            checked.append(item_value)
            errors.extend(item_errors)
        if "maxItems" in spec and len(value) > spec["maxItems"]:
            errors.append(
                InvalidField(
                    "array_max_items", field, f"Array must have at most {spec['maxItems']} items"
                )
            )
        return checked, errors
    choices = spec.get("enum")
    if choices and value not in choices:
        allowed = ", ".join(f'"{c}"' for c in choices)
        return value, [
            InvalidField("enum", field, f"{name} must be one of the following: {allowed}")
        ]
    if spec.get("format") == "uri" and isinstance(value, str) and not _is_uri(value):
        return value, [InvalidField("format", field, "Does not match format 'uri'")]
    return value, []


def validate_input(
    raw: object, input_schema: Mapping[str, Any], components: Mapping[str, Any]
) -> ModelInput:
    """Check ``raw`` against a Cog ``Input`` schema and fill in defaults.

    Args:
        raw: The ``input`` object of a create request.
        input_schema: ``components.schemas.Input`` of the model's OpenAPI schema.
        components: ``components.schemas``, for the enums ``Input`` refers to.

    Raises:
        InputValidationError: With every failure found, not only the first.
    """
    if not isinstance(raw, dict):
        raise InputValidationError([_type_error("input", "object", raw)])
    properties: Mapping[str, Any] = input_schema.get("properties", {})
    errors = [
        InvalidField("required", "input", f"{name} is required")
        for name in input_schema.get("required", ())
        if name not in raw
    ]
    values: dict[str, Any] = {}
    ordered = sorted(properties.items(), key=lambda item: item[1].get("x-order", 0))
    for name, spec in ordered:
        if name not in raw:
            if "default" in spec:
                values[name] = spec["default"]
            continue
        value, problems = _check(name, f"input.{name}", spec, raw[name], components)
        errors.extend(problems)
        if not problems:
            values[name] = value
    if errors:
        raise InputValidationError(errors)
    ignored = tuple(sorted(key for key in raw if key not in properties))
    return ModelInput(values, ignored=ignored)


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
