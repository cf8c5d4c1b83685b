"""Which Replicate model a setting names, and what that model can do.

Replicate runs a model through one of three endpoints, and the ``model``
setting picks among them by its shape alone, so that one string field (the
same one Pipecat's ``Settings.model`` updates at run time) can name any of them:

* ``owner/name``: an official model, run through
  ``POST /models/{owner}/{name}/predictions``, always at its latest version;
* ``owner/name:<64 hex>`` or a bare ``<64 hex>`` version id: one pinned model
  version, run through ``POST /predictions`` with ``version`` in the body;
* ``deployments/owner/name``: one of your deployments, run through
  ``POST /deployments/{owner}/{name}/predictions``.

A deployment is named with a ``deployments/`` prefix rather than a separate
setting because a separate setting would have to win or lose against
``model`` whenever both are set; with one field there is nothing to reconcile.

Capabilities are per model, and a backend must declare them before its first
request (the core checks every request against them without a network call).
So the backend carries a profile for the models it knows (flux-schnell, the
default, and the image-editing models below), each one checked against the
schema the emulator serves for it (``tests/test_schema.py``). Any other model
starts with a conservative generic profile (text to image, one output) and
gets its schema's real capabilities once the schema has been read (by
``ReplicateBackend.resolve_capabilities()`` or its first generation); the
``capabilities`` setting overrides both.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from imagegen_core import MAX_INPUT_IMAGES, Capabilities, ImageRole, OutputFormat
from imagegen_replicate._schema import ModelSchema

__all__ = [
    "DEFAULT_MODEL",
    "FLUX_SCHNELL_ASPECT_RATIOS",
    "GENERIC_CAPABILITIES",
    "KNOWN_MODELS",
    "ModelProfile",
    "ModelRef",
    "profile_for",
]

DEFAULT_MODEL = "black-forest-labs/flux-schnell"
"""The model the old ``pipecat-replicate`` plugin defaulted to, and so do we."""

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_VERSION = r"[0-9a-f]{64}"
_OFFICIAL = re.compile(rf"^(?P<owner>{_NAME})/(?P<name>{_NAME})$")
_PINNED = re.compile(rf"^(?P<owner>{_NAME})/(?P<name>{_NAME}):(?P<version>{_VERSION})$")
_BARE_VERSION = re.compile(rf"^(?P<version>{_VERSION})$")
_DEPLOYMENT = re.compile(rf"^deployments/(?P<owner>{_NAME})/(?P<name>{_NAME})$")

RefKind = Literal["model", "version", "deployment"]


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed ``model`` setting: which endpoint to call and what to send it.

    Args:
        kind: ``model`` (official model), ``version`` (pinned version) or ``deployment``.
        owner: The model's or deployment's owner; ``None`` for a bare version id.
        name: The model's or deployment's name; ``None`` for a bare version id.
        version: The 64-hex version id, for pinned versions.
    """

    kind: RefKind
    owner: str | None = None
    name: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, value: str) -> ModelRef:
        """Read a ``model`` setting.

        Raises:
            ValueError: The string is none of the accepted shapes; the message
                lists them.
        """
        if cls is ModelRef:
            # A generation reads its model several times (settings snapshot,
            # capabilities, request building); the reference is immutable.
            return _parse_cached(value)
        return cls._parse(value)

    @classmethod
    def _parse(cls, value: str) -> ModelRef:
        text = value.strip()
        if match := _DEPLOYMENT.match(text):
            return cls("deployment", match["owner"], match["name"])
        if match := _PINNED.match(text):
            return cls("version", match["owner"], match["name"], match["version"])
        if match := _BARE_VERSION.match(text):
            return cls("version", version=match["version"])
        if (match := _OFFICIAL.match(text)) and match["owner"] != "deployments":
            return cls("model", match["owner"], match["name"])
        raise ValueError(
            f"model {value!r} is not a Replicate model reference; use 'owner/name', "
            "'owner/name:<64-hex version id>', a bare 64-hex version id, "
            "or 'deployments/owner/name'"
        )

    @property
    def model_name(self) -> str | None:
        """``owner/name`` of the model (or deployment), when the reference says it."""
        if self.owner is None or self.name is None:
            return None
        return f"{self.owner}/{self.name}"

    def create_path(self) -> str:
        """The path, relative to the API base URL, that creates a prediction."""
        if self.kind == "deployment":
            return f"deployments/{self.owner}/{self.name}/predictions"
        if self.kind == "model":
            return f"models/{self.owner}/{self.name}/predictions"
        return "predictions"

    def create_body(self, inputs: dict[str, object]) -> dict[str, object]:
        """The JSON body that creates a prediction with ``inputs``."""
        body: dict[str, object] = {"input": inputs}
        if self.kind == "version":
            # Replicate accepts both the bare id and owner/name:id here; sending
            # what the user wrote keeps the model name visible in its dashboard.
            body["version"] = str(self)
        return body

    def __str__(self) -> str:
        if self.kind == "deployment":
            return f"deployments/{self.owner}/{self.name}"
        if self.kind == "model":
            return f"{self.owner}/{self.name}"
        if self.owner is None:
            return str(self.version)
        return f"{self.owner}/{self.name}:{self.version}"


FLUX_SCHNELL_ASPECT_RATIOS = frozenset(
    {"1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"}
)
"""The ``aspect_ratio`` values flux-schnell's input schema enumerates."""


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """What the backend knows about a model: capabilities and input names.

    Args:
        capabilities: The request features the model honours.
        takes_num_outputs: The model has a ``num_outputs`` input, so it is sent
            even for one image (models without it reject or ignore it).
    """

    capabilities: Capabilities
    takes_num_outputs: bool


FLUX_SCHNELL = ModelProfile(
    capabilities=Capabilities(
        max_images_per_call=4,
        aspect_ratios=FLUX_SCHNELL_ASPECT_RATIOS,
        supports_size=False,
        supports_seed=True,
        supports_negative_prompt=False,
        supports_quality=True,
        output_formats=frozenset(OutputFormat),
    ),
    takes_num_outputs=True,
)

GENERIC_CAPABILITIES = Capabilities(
    max_images_per_call=1,
    aspect_ratios=None,
    supports_size=False,
    supports_seed=True,
    supports_negative_prompt=False,
    supports_quality=False,
    output_formats=frozenset(),
)
"""Assumed for models the backend has no profile for: one image, with ``prompt``,
``aspect_ratio`` and ``seed`` (inputs most Replicate image models share) passed
through, and nothing promised beyond that. Declare a model's real abilities
with the ``capabilities`` setting."""

_BOTH_ROLES = frozenset(ImageRole)
_KONTEXT_RATIOS = FLUX_SCHNELL_ASPECT_RATIOS | {"2:1", "1:2"}


def _editor(**fields: object) -> ModelProfile:
    """The profile of an image-editing model: its inputs take either role."""
    defaults: dict[str, object] = {"supports_size": False, "input_roles": _BOTH_ROLES}
    takes_num_outputs = bool(fields.pop("takes_num_outputs", False))
    return ModelProfile(Capabilities(**{**defaults, **fields}), takes_num_outputs)


KNOWN_MODELS: dict[str, ModelProfile] = {
    DEFAULT_MODEL: FLUX_SCHNELL,
    # One image to edit, as `input_image`.
    "black-forest-labs/flux-kontext-pro": _editor(
        aspect_ratios=_KONTEXT_RATIOS,
        supports_seed=True,
        output_formats=frozenset({OutputFormat.JPEG, OutputFormat.PNG}),
        max_input_images=1,
    ),
    # A list of images, `image_input`, with no stated limit (so the core's).
    "google/nano-banana": _editor(
        aspect_ratios=FLUX_SCHNELL_ASPECT_RATIOS,
        output_formats=frozenset({OutputFormat.JPEG, OutputFormat.PNG}),
        max_input_images=MAX_INPUT_IMAGES,
    ),
    # A list of images, `input_images`: "Maximum 8 images".
    "black-forest-labs/flux-2-pro": _editor(
        aspect_ratios=FLUX_SCHNELL_ASPECT_RATIOS,
        supports_seed=True,
        supports_quality=True,
        output_formats=frozenset(OutputFormat),
        max_input_images=8,
    ),
    # `image` and `mask` (inpainting); exact sizes, no aspect ratio or format choice.
    "stability-ai/sdxl": _editor(
        max_images_per_call=4,
        aspect_ratios=frozenset(),
        supports_size=True,
        supports_seed=True,
        supports_negative_prompt=True,
        max_input_images=1,
        supports_mask=True,
        takes_num_outputs=True,
    ),
}
"""The models whose capabilities are declared before their schema is read, by ``owner/name``."""


@functools.lru_cache(maxsize=128)
def _parse_cached(value: str) -> ModelRef:
    return ModelRef._parse(value)


def profile_for(
    ref: ModelRef, declared: Capabilities | None = None, schema: ModelSchema | None = None
) -> ModelProfile:
    """The profile to use for ``ref``.

    Capabilities the user declared win; then what the model's schema says,
    once it has been read; then a known model's profile; otherwise the generic
    one. A deployment's underlying model is not visible in its name, so a
    deployment is known only through its schema or a declaration.
    """
    known = KNOWN_MODELS.get(ref.model_name or "") if ref.kind != "deployment" else None
    if schema is not None:
        from_schema = ModelProfile(schema.capabilities(), schema.takes_num_outputs)
        known = from_schema
    if declared is not None:
        return ModelProfile(declared, takes_num_outputs=known.takes_num_outputs if known else False)
    if known is not None:
        return known
    return ModelProfile(GENERIC_CAPABILITIES, takes_num_outputs=False)
