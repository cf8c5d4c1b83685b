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

Capabilities are per model. Replicate does not say in a prediction reply what
inputs a model takes, so the backend carries a profile for the models it knows
(flux-schnell, the default) and a conservative generic profile for the rest,
which a user can replace with the ``capabilities`` setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from imagegen_core import Capabilities, OutputFormat

__all__ = [
    "DEFAULT_MODEL",
    "FLUX_SCHNELL_ASPECT_RATIOS",
    "GENERIC_CAPABILITIES",
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

_PROFILES = {DEFAULT_MODEL: FLUX_SCHNELL}


def profile_for(ref: ModelRef, declared: Capabilities | None = None) -> ModelProfile:
    """The profile to use for ``ref``.

    Capabilities the user declared win; otherwise a known model's profile;
    otherwise the generic one. A deployment's underlying model is not visible
    in its name, so deployments get the generic profile unless declared.
    """
    known = _PROFILES.get(ref.model_name or "") if ref.kind != "deployment" else None
    if declared is not None:
        return ModelProfile(declared, takes_num_outputs=known.takes_num_outputs if known else False)
    if known is not None:
        return known
    return ModelProfile(GENERIC_CAPABILITIES, takes_num_outputs=False)
