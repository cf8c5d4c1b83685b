"""Mapping the provider-neutral :class:`~imagegen_core.ImageRequest` onto model inputs.

Replicate models name their inputs themselves; flux-schnell and most image
models on Replicate share these names, which is what this mapping targets:

============================  ============================
ImageRequest                  Replicate input
============================  ============================
``prompt``                    ``prompt``
``negative_prompt``           ``negative_prompt``
``num_images``                ``num_outputs``
``aspect_ratio``              ``aspect_ratio``
``size``                      ``width`` and ``height``
``seed``                      ``seed``
``output_format``             ``output_format`` (``jpeg`` becomes ``jpg``)
``quality``                   ``output_quality``
``options``                   passed through unchanged
============================  ============================

Precedence, lowest first: the backend's ``inputs`` setting, then the mapped
request fields, then the request's ``options`` (the most specific word wins).
A field the model's capabilities do not support is not sent: the core has
already turned it into a warning on the generation.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from imagegen_core import ImageRequest, OutputFormat
from imagegen_replicate._models import ModelProfile

__all__ = ["build_inputs", "expected_outputs", "replicate_format"]

_REPLICATE_FORMAT = {OutputFormat.JPEG: "jpg", OutputFormat.PNG: "png", OutputFormat.WEBP: "webp"}


def replicate_format(output_format: OutputFormat) -> str:
    """Replicate's spelling of a format (flux models say ``jpg``, not ``jpeg``)."""
    return _REPLICATE_FORMAT[output_format]


def build_inputs(
    request: ImageRequest, *, defaults: Mapping[str, JsonValue], profile: ModelProfile
) -> dict[str, JsonValue]:
    """The ``input`` object for a prediction that serves ``request``."""
    capabilities = profile.capabilities
    inputs: dict[str, JsonValue] = dict(defaults)
    inputs["prompt"] = request.prompt
    if request.negative_prompt is not None and capabilities.supports_negative_prompt:
        inputs["negative_prompt"] = request.negative_prompt
    if profile.takes_num_outputs or request.num_images > 1:
        inputs["num_outputs"] = request.num_images
    if request.aspect_ratio is not None and capabilities.aspect_ratios != frozenset():
        inputs["aspect_ratio"] = request.aspect_ratio
    if request.size is not None and capabilities.supports_size:
        inputs["width"], inputs["height"] = request.size.width, request.size.height
    if request.seed is not None and capabilities.supports_seed:
        inputs["seed"] = request.seed
    if request.output_format is not None and request.output_format in capabilities.output_formats:
        inputs["output_format"] = replicate_format(request.output_format)
    if request.quality is not None and capabilities.supports_quality:
        inputs["output_quality"] = request.quality
    inputs.update(request.options)
    return inputs


def expected_outputs(inputs: Mapping[str, JsonValue], request: ImageRequest) -> int:
    """How many images the prediction should return.

    ``num_outputs`` as actually sent wins (an ``options`` override included);
    otherwise the request's ``num_images``.
    """
    sent = inputs.get("num_outputs")
    if isinstance(sent, int) and not isinstance(sent, bool) and sent >= 1:
        return sent
    return request.num_images
