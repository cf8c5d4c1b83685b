"""Reading a model version's OpenAPI schema: which inputs take images, and what it honours.

Replicate models name their inputs themselves: FLUX Kontext takes its image as
``input_image``, SDXL as ``image`` (with a ``mask``), FLUX.2 as a list called
``input_images``, nano-banana as a list called ``image_input``. Sending one
hard-wired key to every model (what the Vercel AI SDK does) makes most of them
ignore the picture and draw from the prompt alone. The model and version
endpoints return the version's ``openapi_schema`` as Cog writes it, and this
module reads the parts that decide what to send:

* **image inputs**: properties whose type is ``{"type": "string", "format":
  "uri"}`` (one file) or an array of those (several), whose name says
  ``image``; the first such array in ``x-order`` takes every input image, else
  the single-file ones take one image each, in ``x-order``;
* **the mask**: a file property whose name says ``mask``;
* **how many images an array takes**: ``maxItems`` when the schema has it,
  else a "Maximum N images" in its description (how model pages state the
  limit), else the core's own cap;
* **everything else** :class:`~imagegen_core.Capabilities` describe: outputs
  per call (``num_outputs``' maximum), aspect ratios (the enum's ``W:H``
  values: ``match_input_image`` and ``custom`` are not ratios; a free-form
  string or no ``aspect_ratio`` input declares none), ``width``/``height``,
  ``seed``, ``negative_prompt``, ``output_format`` and ``output_quality``;
* **previews**: an array output marked ``x-cog-array-type: iterator`` grows
  while the model runs; the files it shows before the prediction succeeds are
  intermediate renders.

Replicate does not tell an edit target from a style reference: the model's
prompt decides what it does with the picture. So every image input accepts
both roles, and a mask needs the ``edit`` role (the core checks that).

The schema is untrusted input like any reply: anything not shaped as above is
ignored, never fatal; a schema with no ``Input`` at all is refused by
:func:`parse_model_schema`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from imagegen_core import (
    MAX_IMAGES_PER_REQUEST,
    MAX_INPUT_IMAGES,
    Capabilities,
    ErrorKind,
    ImageGenError,
    ImageRole,
    OutputFormat,
    parse_aspect_ratio,
)

__all__ = ["ImageInputs", "ModelSchema", "parse_model_schema", "schema_from_reply"]

_MATCH_INPUT = "match_input_image"
_STATED_LIMIT = re.compile(r"\b(?:maximum|max\.?|up to|at most)\s+(?:of\s+)?(\d{1,3})\b", re.I)
_FORMATS = {"jpg": OutputFormat.JPEG, "jpeg": OutputFormat.JPEG, "png": OutputFormat.PNG}
_FORMATS["webp"] = OutputFormat.WEBP


@dataclass(frozen=True, slots=True)
class ImageInputs:
    """Where a model takes its input images and mask.

    Args:
        names: The inputs that take images. One name with ``many`` set: an
            array taking every image. Otherwise one image per name, in order.
        many: ``names[0]`` is an array of files.
        limit: Most images the model takes.
        mask: The input that takes the mask, if the model has one.
    """

    names: tuple[str, ...]
    many: bool
    limit: int
    mask: str | None = None

    def place(self, images: list[str], mask: str | None) -> dict[str, Any]:
        """The inputs carrying ``images`` (file or data URLs) and ``mask``."""
        placed: dict[str, Any] = {}
        if self.many:
            placed[self.names[0]] = list(images)
        else:
            placed.update(zip(self.names, images, strict=False))
        if mask is not None and self.mask is not None:
            placed[self.mask] = mask
        return placed


@dataclass(frozen=True, slots=True)
class ModelSchema:
    """What a model version's schema says, read once and cached per version.

    Args:
        version: The version id the schema belongs to (``None`` when the reply
            did not say, as for some deployments).
        properties: ``components.schemas.Input.properties``.
        enums: Enum components, by name.
        iterator_output: The output is an iterator (files before success are previews).
    """

    version: str | None
    properties: Mapping[str, Mapping[str, Any]]
    enums: Mapping[str, tuple[str, ...]]
    iterator_output: bool

    @property
    def takes_num_outputs(self) -> bool:
        """The model has a ``num_outputs`` input."""
        return "num_outputs" in self.properties

    @property
    def image_inputs(self) -> ImageInputs | None:
        """Where images go, or ``None`` for a text-to-image model."""
        files = [(name, spec) for name, spec in self._ordered() if _file_kind(spec) is not None]
        masks = [name for name, spec in files if "mask" in name.lower()]
        images = [(name, spec) for name, spec in files if name not in masks and _says_image(name)]
        mask = masks[0] if masks else None
        arrays = [(name, spec) for name, spec in images if _file_kind(spec) == "many"]
        if arrays:
            name, spec = arrays[0]
            return ImageInputs((name,), many=True, limit=_array_limit(spec), mask=mask)
        singles = tuple(name for name, _ in images)
        if not singles:
            return None
        return ImageInputs(
            singles, many=False, limit=min(len(singles), MAX_INPUT_IMAGES), mask=mask
        )

    def capabilities(self) -> Capabilities:
        """The :class:`~imagegen_core.Capabilities` this schema describes."""
        props = self.properties
        ratios = self._choices("aspect_ratio")
        formats = frozenset(
            _FORMATS[f] for f in self._choices("output_format") or () if f in _FORMATS
        )
        inputs = self.image_inputs
        return Capabilities(
            max_images_per_call=self._max_outputs(),
            aspect_ratios=frozenset(r for r in ratios or () if _is_ratio(r)),
            supports_size="width" in props and "height" in props,
            supports_seed="seed" in props,
            supports_negative_prompt="negative_prompt" in props,
            supports_quality="output_quality" in props,
            output_formats=formats,
            max_input_images=inputs.limit if inputs is not None else 0,
            supports_mask=inputs is not None and inputs.mask is not None,
            input_roles=frozenset(ImageRole) if inputs is not None else frozenset({ImageRole.EDIT}),
        )

    def _ordered(self) -> list[tuple[str, Mapping[str, Any]]]:
        def order(item: tuple[str, Mapping[str, Any]]) -> float:
            value = item[1].get("x-order")
            return float(value) if isinstance(value, int | float) else float("inf")

        return sorted(self.properties.items(), key=order)

    def _choices(self, name: str) -> tuple[str, ...] | None:
        spec = self.properties.get(name)
        if spec is None:
            return None
        if isinstance(spec.get("enum"), list):
            return tuple(str(v) for v in spec["enum"])
        for ref in spec.get("allOf", ()) if isinstance(spec.get("allOf"), list) else ():
            target = ref.get("$ref") if isinstance(ref, Mapping) else None
            if isinstance(target, str) and target.rsplit("/", 1)[-1] in self.enums:
                return self.enums[target.rsplit("/", 1)[-1]]
        return None  # a free-form string: any ratio, so the core's checks decide

    def _max_outputs(self) -> int:
        spec = self.properties.get("num_outputs")
        maximum = spec.get("maximum") if spec is not None else None
        if isinstance(maximum, int) and not isinstance(maximum, bool) and maximum >= 1:
            return min(maximum, MAX_IMAGES_PER_REQUEST)
        return 1


def _is_ratio(value: str) -> bool:
    """A ``W:H`` choice; ``match_input_image``, ``custom`` and the like are not ratios."""
    try:
        parse_aspect_ratio(value)
    except ValueError:
        return False
    return True


def _file_kind(spec: Mapping[str, Any]) -> str | None:
    if spec.get("type") == "string" and spec.get("format") == "uri":
        return "one"
    items = spec.get("items")
    if spec.get("type") == "array" and isinstance(items, Mapping) and items.get("format") == "uri":
        return "many"
    return None


def _says_image(name: str) -> bool:
    return "image" in name.lower()


def _array_limit(spec: Mapping[str, Any]) -> int:
    limit = spec.get("maxItems")
    if not (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1):
        stated = _STATED_LIMIT.search(str(spec.get("description", "")))
        limit = int(stated[1]) if stated else MAX_INPUT_IMAGES
    return max(1, min(limit, MAX_INPUT_IMAGES))


class _Components(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schemas: dict[str, dict[str, Any]]


class _OpenApi(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    components: _Components


class _Version(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | None = None
    openapi_schema: _OpenApi


class _ModelReply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    latest_version: _Version | None = None


def parse_model_schema(openapi: Mapping[str, Any], *, version: str | None) -> ModelSchema:
    """Read an ``openapi_schema`` (Cog's layout).

    Raises:
        ValueError: It has no ``components.schemas.Input.properties`` object.
    """
    try:
        schemas = _OpenApi.model_validate(openapi).components.schemas
    except ValidationError:
        raise ValueError("the schema has no components.schemas object") from None
    properties = schemas.get("Input", {}).get("properties")
    if not isinstance(properties, dict):
        raise ValueError("the schema has no Input properties")
    enums = {
        name: tuple(str(v) for v in spec["enum"])
        for name, spec in schemas.items()
        if isinstance(spec.get("enum"), list)
    }
    output = schemas.get("Output", {})
    return ModelSchema(
        version=version,
        properties={k: v for k, v in properties.items() if isinstance(v, dict)},
        enums=enums,
        iterator_output=output.get("type") == "array"
        and output.get("x-cog-array-type") == "iterator",
    )


def schema_from_reply(body: bytes, *, action: str) -> ModelSchema:
    """The schema in a model (``latest_version``) or version reply.

    Raises:
        ImageGenError: ``server``, not retryable: the reply holds no readable schema.
    """
    try:
        model = _ModelReply.model_validate_json(body)
        version = model.latest_version or _Version.model_validate_json(body)
        return parse_model_schema(version.openapi_schema.model_dump(), version=version.id)
    except (ValidationError, ValueError) as exc:
        reason = (
            str(exc)
            if isinstance(exc, ValueError) and not isinstance(exc, ValidationError)
            else "no openapi_schema with components.schemas"
        )
        raise ImageGenError(
            f"Replicate's reply while {action} holds no model schema this backend can read "
            f"({reason})",
            kind=ErrorKind.SERVER,
            retryable=False,
        ) from None
