"""What a backend can honour, and how a request is checked against it.

Backends differ: one takes a negative prompt, another only fixed aspect ratios.
Instead of each backend silently dropping what it cannot do, it declares
:class:`Capabilities` and the core compares every request with them. A setting
the backend cannot honour at all becomes a warning on the generation (an error
in strict mode); a value outside what it supports, such as an aspect ratio it
does not offer or too many images, is an error before any network call.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._inputs import MAX_INPUT_IMAGES, ImageRole
from imagegen_core._request import ImageRequest, OutputFormat, parse_aspect_ratio
from imagegen_core._results import GenerationWarning, WarningKind

__all__ = ["Capabilities", "ratio_sort_key"]


class Capabilities(BaseModel):
    """The request features a backend honours.

    ``aspect_ratios=None`` means any ratio is accepted; an empty set means the
    backend has no notion of aspect ratio at all. ``output_formats`` empty means
    the backend picks the format itself.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_images_per_call: int = Field(default=1, ge=1, description="Most images one call returns.")
    aspect_ratios: frozenset[str] | None = Field(
        default=None, description="Ratios accepted ('16:9'); None for any, empty for none."
    )
    supports_size: bool = Field(default=False, description="Exact WIDTHxHEIGHT sizes are honoured.")
    supports_seed: bool = Field(default=False, description="A seed makes output reproducible.")
    supports_negative_prompt: bool = Field(default=False, description="negative_prompt is used.")
    supports_quality: bool = Field(default=False, description="quality is passed to the encoder.")
    output_formats: frozenset[OutputFormat] = Field(
        default_factory=frozenset, description="Formats the backend can encode to."
    )
    max_input_images: int = Field(
        default=0,
        ge=0,
        le=MAX_INPUT_IMAGES,
        description="Most input images one request may carry; 0 for text-to-image only.",
    )
    supports_mask: bool = Field(default=False, description="A mask limits where an edit paints.")
    input_roles: frozenset[ImageRole] = Field(
        default_factory=lambda: frozenset({ImageRole.EDIT}),
        description="Roles of input images the backend can honour.",
    )

    @field_validator("aspect_ratios")
    @classmethod
    def _normalise_ratios(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        if value is None:
            return None
        return frozenset("{}:{}".format(*parse_aspect_ratio(r)) for r in value)

    @model_validator(mode="after")
    def _inputs_are_consistent(self) -> Self:
        if self.max_input_images and not self.input_roles:
            raise ValueError("a backend taking input images must accept at least one role")
        if self.supports_mask and ImageRole.EDIT not in self.input_roles:
            raise ValueError("supports_mask needs the 'edit' role: a mask applies to an edit image")
        if self.supports_mask and not self.max_input_images:
            raise ValueError("supports_mask needs max_input_images of at least 1")
        return self

    def check(
        self, request: ImageRequest, *, backend: str | None = None
    ) -> list[GenerationWarning]:
        """Compare a request with these capabilities.

        Returns:
            One warning per setting the backend will ignore.

        Raises:
            ImageGenError: ``invalid_request`` when a value is outside what the
                backend supports (too many images, an aspect ratio it does not
                offer): ignoring those would silently return the wrong thing.
        """
        if request.num_images > self.max_images_per_call:
            raise ImageGenError(
                f"num_images={request.num_images} is more than this backend returns per call "
                f"(at most {self.max_images_per_call})",
                kind=ErrorKind.INVALID_REQUEST,
                backend=backend,
            )
        self._check_inputs(request, backend)
        warnings: list[GenerationWarning] = []

        def unsupported(setting: str, message: str) -> None:
            warnings.append(
                GenerationWarning(message, kind=WarningKind.UNSUPPORTED_SETTING, setting=setting)
            )

        if request.aspect_ratio is not None and self.aspect_ratios is not None:
            if not self.aspect_ratios:
                unsupported("aspect_ratio", "this backend has no aspect ratio setting; ignored")
            elif request.aspect_ratio not in self.aspect_ratios:
                offered = ", ".join(sorted(self.aspect_ratios, key=ratio_sort_key))
                raise ImageGenError(
                    f"aspect_ratio {request.aspect_ratio!r} is not offered; "
                    f"choose one of: {offered}",
                    kind=ErrorKind.INVALID_REQUEST,
                    backend=backend,
                )
        if request.size is not None and not self.supports_size:
            hint = "; use aspect_ratio instead" if self.aspect_ratios != frozenset() else ""
            unsupported("size", f"exact sizes are not supported; ignored{hint}")
        if request.seed is not None and not self.supports_seed:
            unsupported("seed", "seeds are not supported; output will not be reproducible")
        if request.negative_prompt is not None and not self.supports_negative_prompt:
            unsupported("negative_prompt", "negative prompts are not supported; ignored")
        if request.quality is not None and not self.supports_quality:
            unsupported("quality", "output quality is not adjustable; ignored")
        if request.output_format is not None and request.output_format not in self.output_formats:
            offered = ", ".join(sorted(f.value for f in self.output_formats)) or "its own choice"
            unsupported(
                "output_format",
                f"{request.output_format.value} is not available; the backend returns {offered}",
            )
        return warnings

    def _check_inputs(self, request: ImageRequest, backend: str | None) -> None:
        """Refuse input images and masks the backend cannot use.

        These are errors, never warnings: an edit that ignored its image, or a
        picture drawn without its reference, is the wrong picture.
        """

        def refuse(message: str) -> None:
            raise ImageGenError(message, kind=ErrorKind.INVALID_REQUEST, backend=backend)

        count = len(request.images)
        if count and not self.max_input_images:
            refuse(f"this backend takes no input images (text to image only); {count} given")
        if count > self.max_input_images:
            refuse(
                f"{count} input images given; this backend takes at most {self.max_input_images}"
            )
        for position, image in enumerate(request.images):
            if image.role not in self.input_roles:
                offered = ", ".join(sorted(role.value for role in self.input_roles))
                refuse(
                    f"input image {position} has role {image.role.value!r}, which this backend "
                    f"cannot honour; it accepts: {offered}"
                )
        if request.mask is not None and not self.supports_mask:
            refuse("this backend does not take a mask; edit the whole image or choose another")


def ratio_sort_key(ratio: str) -> tuple[float, str]:
    """Order aspect ratios from tallest to widest (ties by their text), for listings."""
    width, height = parse_aspect_ratio(ratio)
    return (width / height, ratio)
