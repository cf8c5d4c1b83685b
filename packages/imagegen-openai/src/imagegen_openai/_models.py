"""What each OpenAI image model accepts, so a request is checked before it is sent.

OpenAI's Images API answers a size, count or option a model does not take
with a ``400``; checking here instead turns that into a clear
``invalid_request`` before any byte is billed, and lets the backend declare
honest :class:`~imagegen_core.Capabilities` (aspect ratios map to the sizes the
model really renders, never to a size it would silently change).

Sources: the Images API reference (``POST /images/generations`` and
``/images/edits``: ``n`` "between 1 and 10, for dall-e-3 only n=1"; the size
lists per model; ``background`` "only for GPT image models", not
``transparent`` on ``gpt-image-2``; ``input_fidelity`` high and low on
``gpt-image-1`` and ``gpt-image-1.5``, low only on ``gpt-image-1-mini``; up to
16 input images of under 50 MB for GPT image models, one square PNG under
4 MB for ``dall-e-2``; ``partial_images`` 0 to 3; ``response_format`` only for
DALL-E, whose URLs expire after 60 minutes). Model names are matched by prefix
so dated snapshots (``gpt-image-1.5-2025-12-16``) get their family's profile.
A model this table does not know (an OpenAI-compatible server's own name) is
treated as a GPT image model, the shape such servers copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegen_core import Capabilities, ImageRole, ImageSize, OutputFormat

__all__ = ["DEFAULT_MODEL", "MODEL_PROFILES", "ModelProfile", "profile_for"]

DEFAULT_MODEL = "gpt-image-1.5"
"""OpenAI's current general GPT image model."""

_SQUARE = ImageSize(1024, 1024)
_GPT_SIZES = {"1:1": _SQUARE, "3:2": ImageSize(1536, 1024), "2:3": ImageSize(1024, 1536)}
_GPT_QUALITIES = frozenset({"auto", "low", "medium", "high"})
_BACKGROUNDS = frozenset({"auto", "opaque", "transparent"})
_ALL_FORMATS = frozenset(OutputFormat)


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """One model family's limits, as the Images API documents them.

    Args:
        family: The name prefix the profile applies to.
        gpt_image: A GPT image model (base64 outputs, token usage, ``output_format``).
        max_images: The most images (``n``) one call returns.
        sizes: Aspect ratio -> the size the model renders for it.
        extra_sizes: Further exact sizes accepted (DALL-E 2's smaller squares).
        qualities: Values of ``quality`` accepted.
        backgrounds: Values of ``background`` accepted (empty: not sent).
        streams: Whether ``stream``/``partial_images`` are accepted.
        edits: Whether ``/images/edits`` accepts the model.
        max_input_images: Input images an edit may carry.
        max_input_bytes: Largest input image (and mask) file accepted.
        input_fidelities: Values of ``input_fidelity`` accepted on edits.
        styles: Values of ``style`` accepted (DALL-E 3).
        max_prompt_chars: Longest prompt accepted.
    """

    family: str
    gpt_image: bool
    max_images: int
    sizes: dict[str, ImageSize]
    extra_sizes: frozenset[ImageSize] = frozenset()
    qualities: frozenset[str] = _GPT_QUALITIES
    backgrounds: frozenset[str] = _BACKGROUNDS
    streams: bool = True
    edits: bool = True
    max_input_images: int = 16
    max_input_bytes: int = 50 * 2**20
    input_fidelities: frozenset[str] = frozenset()
    styles: frozenset[str] = frozenset()
    max_prompt_chars: int = 32_000

    @property
    def accepted_sizes(self) -> frozenset[ImageSize]:
        """Every exact size the model accepts."""
        return frozenset(self.sizes.values()) | self.extra_sizes

    @property
    def output_formats(self) -> frozenset[OutputFormat]:
        """Formats the model encodes to (DALL-E: PNG only, ``output_format`` is not sent)."""
        return _ALL_FORMATS if self.gpt_image else frozenset({OutputFormat.PNG})

    def capabilities(self) -> Capabilities:
        """The protocol capabilities of this model."""
        return Capabilities(
            max_images_per_call=self.max_images,
            aspect_ratios=frozenset(self.sizes),
            supports_size=True,
            supports_seed=False,
            supports_negative_prompt=False,
            # Encoder quality is output_compression, which only GPT image models take.
            supports_quality=self.gpt_image,
            output_formats=self.output_formats,
            max_input_images=self.max_input_images if self.edits else 0,
            supports_mask=self.edits and self.max_input_images > 0,
            # GPT image edits draw on every image they get; DALL-E 2 edits its one image.
            input_roles=frozenset(ImageRole) if self.gpt_image else frozenset({ImageRole.EDIT}),
        )


_GPT_IMAGE = ModelProfile(
    family="gpt-image-1",
    gpt_image=True,
    max_images=10,
    sizes=_GPT_SIZES,
    input_fidelities=frozenset({"low", "high"}),
)

MODEL_PROFILES: tuple[ModelProfile, ...] = (
    ModelProfile(
        family="gpt-image-1-mini",
        gpt_image=True,
        max_images=10,
        sizes=_GPT_SIZES,
        input_fidelities=frozenset({"low"}),
    ),
    ModelProfile(
        family="gpt-image-1.5",
        gpt_image=True,
        max_images=10,
        sizes=_GPT_SIZES,
        input_fidelities=frozenset({"low", "high"}),
    ),
    _GPT_IMAGE,
    ModelProfile(
        family="gpt-image-2",
        gpt_image=True,
        max_images=10,
        sizes=_GPT_SIZES,
        # "gpt-image-2 ... do not support transparent backgrounds": an error, not a warning.
        backgrounds=frozenset({"auto", "opaque"}),
    ),
    ModelProfile(
        family="chatgpt-image-latest",
        gpt_image=True,
        max_images=10,
        sizes=_GPT_SIZES,
        input_fidelities=frozenset({"low", "high"}),
    ),
    ModelProfile(
        family="dall-e-3",
        gpt_image=False,
        max_images=1,
        sizes={"1:1": _SQUARE, "7:4": ImageSize(1792, 1024), "4:7": ImageSize(1024, 1792)},
        qualities=frozenset({"standard", "hd"}),
        backgrounds=frozenset(),
        streams=False,
        edits=False,
        max_input_images=0,
        styles=frozenset({"vivid", "natural"}),
        max_prompt_chars=4_000,
    ),
    ModelProfile(
        family="dall-e-2",
        gpt_image=False,
        max_images=10,
        sizes={"1:1": _SQUARE},
        extra_sizes=frozenset({ImageSize(256, 256), ImageSize(512, 512)}),
        qualities=frozenset({"standard"}),
        backgrounds=frozenset(),
        streams=False,
        max_input_images=1,
        max_input_bytes=4 * 2**20,
        max_prompt_chars=1_000,
    ),
)
"""Known families, longest prefix first where one prefix contains another."""


def profile_for(model: str) -> ModelProfile:
    """The profile of ``model``: its family's, or the GPT image one for unknown names."""
    name = model.strip().lower()
    for profile in MODEL_PROFILES:
        if name == profile.family or name.startswith(profile.family + "-"):
            return profile
    return _GPT_IMAGE
