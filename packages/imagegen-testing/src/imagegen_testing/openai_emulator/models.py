"""What the emulated models accept, and what a generation is billed in tokens.

The provider's side of the table, kept here rather than imported from
imagegen-openai: the emulator must say what OpenAI says, not what the backend
believes, or a wrong belief would pass its own tests.

Sources: the Images API reference (sizes per model, ``n`` 1-10 and 1 for
``dall-e-3``, qualities, ``background`` and its ``transparent`` limit on
``gpt-image-2``, ``input_fidelity`` per model, 16 input images, DALL-E 2's one
square PNG under 4 MB, ``partial_images`` 0-3, prompt lengths). Output token
counts are the cost table of OpenAI's image generation guide for
``gpt-image-1`` (272/408/400 tokens at low quality for 1024x1024, 1024x1536,
1536x1024; 1056/1584/1568 at medium; 4160/6240/6208 at high). The emulator's
guesses: that table for every GPT image model, ``auto`` quality billed as
medium, text tokens as a quarter of the prompt's characters, and 258 image
tokens per input image of an edit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from imagegen_core import ImageSize

__all__ = ["MODELS", "EmulatedModel", "output_tokens", "text_tokens"]

_GPT_SIZES = (ImageSize(1024, 1024), ImageSize(1024, 1536), ImageSize(1536, 1024))
_GPT_QUALITIES = frozenset({"auto", "low", "medium", "high"})
_ALL_BACKGROUNDS = frozenset({"auto", "opaque", "transparent"})
INPUT_IMAGE_TOKENS = 258


@dataclass(frozen=True)
class EmulatedModel:
    """One model as the emulator serves it."""

    name: str
    gpt_image: bool
    sizes: tuple[ImageSize, ...]
    max_n: int
    qualities: frozenset[str]
    backgrounds: frozenset[str]
    streams: bool
    edits: bool
    max_input_images: int
    input_fidelities: frozenset[str]
    max_prompt: int
    default_size: ImageSize = field(default_factory=lambda: ImageSize(1024, 1024))


def _gpt(
    name: str, *, fidelities: frozenset[str], backgrounds: frozenset[str] = _ALL_BACKGROUNDS
) -> EmulatedModel:
    return EmulatedModel(
        name=name,
        gpt_image=True,
        sizes=_GPT_SIZES,
        max_n=10,
        qualities=_GPT_QUALITIES,
        backgrounds=backgrounds,
        streams=True,
        edits=True,
        max_input_images=16,
        input_fidelities=fidelities,
        max_prompt=32_000,
    )


_HIGH_LOW = frozenset({"high", "low"})

MODELS: dict[str, EmulatedModel] = {
    model.name: model
    for model in (
        _gpt("gpt-image-1", fidelities=_HIGH_LOW),
        _gpt("gpt-image-1.5", fidelities=_HIGH_LOW),
        _gpt("gpt-image-1-mini", fidelities=frozenset({"low"})),
        _gpt("gpt-image-2", fidelities=frozenset(), backgrounds=frozenset({"auto", "opaque"})),
        EmulatedModel(
            name="dall-e-3",
            gpt_image=False,
            sizes=(ImageSize(1024, 1024), ImageSize(1792, 1024), ImageSize(1024, 1792)),
            max_n=1,
            qualities=frozenset({"standard", "hd"}),
            backgrounds=frozenset(),
            streams=False,
            edits=False,
            max_input_images=0,
            input_fidelities=frozenset(),
            max_prompt=4_000,
        ),
        EmulatedModel(
            name="dall-e-2",
            gpt_image=False,
            sizes=(ImageSize(256, 256), ImageSize(512, 512), ImageSize(1024, 1024)),
            max_n=10,
            qualities=frozenset({"standard"}),
            backgrounds=frozenset(),
            streams=False,
            edits=True,
            max_input_images=1,
            input_fidelities=frozenset(),
            max_prompt=1_000,
        ),
    )
}
"""The models the emulator knows, by name."""

_OUTPUT_TOKENS = {
    "low": {(1024, 1024): 272, (1024, 1536): 408, (1536, 1024): 400},
    "medium": {(1024, 1024): 1056, (1024, 1536): 1584, (1536, 1024): 1568},
    "high": {(1024, 1024): 4160, (1024, 1536): 6240, (1536, 1024): 6208},
}


def output_tokens(size: ImageSize, quality: str) -> int:
    """Tokens billed for one output image of ``size`` at ``quality``."""
    table = _OUTPUT_TOKENS.get(quality, _OUTPUT_TOKENS["medium"])
    return table.get((size.width, size.height), table[(1024, 1024)])


def text_tokens(prompt: str) -> int:
    """The emulator's estimate of a prompt's text tokens (a quarter of its characters)."""
    return max(1, math.ceil(len(prompt) / 4))
