"""From an :class:`~imagegen_core.ImageRequest` and the settings to the body OpenAI takes.

Every choice the API would otherwise make silently is made here, visibly:

* an aspect ratio becomes the one size the model renders for it (``3:2`` is
  ``1536x1024`` on GPT image models); an exact size must be one the model
  accepts, or the request fails before it is sent, listing the sizes there
  are; the API never gets to round it;
* a request's encoder ``quality`` becomes ``output_compression``, which only
  jpeg and webp take: with png it is a warning, not a quiet drop;
* options a model does not take (``background`` on DALL-E, ``transparent``
  on ``gpt-image-2`` or with jpeg output, ``style`` on GPT image models) are
  ``invalid_request`` errors naming the setting, because the API would refuse
  them anyway, after a round trip;
* settings left at None are not sent, so the model's own default applies.

A request with input images becomes an edit (``/images/edits``): the image
with the ``edit`` role goes first, because OpenAI applies the mask to the
first image, then the others in their order. ``input_fidelity`` is sent with
edits only, where the model offers it.

``extra_body`` and the request's ``options`` are sent as they are, last, for
fields this module does not know yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagegen_core import (
    ErrorKind,
    GenerationWarning,
    ImageGenError,
    ImageRequest,
    ImageRole,
    ImageSize,
    InputImage,
    OutputFormat,
    WarningKind,
)
from imagegen_openai._models import ModelProfile
from imagegen_openai._settings import OpenAISettings

__all__ = ["EDITS", "GENERATIONS", "UPLOAD_MEDIA_TYPES", "Call", "build_call", "refuse"]

GENERATIONS = "images/generations"
EDITS = "images/edits"

_COMPRESSIBLE = frozenset({OutputFormat.JPEG, OutputFormat.WEBP})
_TRANSPARENT_FORMATS = frozenset({OutputFormat.PNG, OutputFormat.WEBP})
UPLOAD_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
"""What GPT image edits take ("png, webp, or jpg"); DALL-E 2 takes PNG only."""


@dataclass(frozen=True)
class Call:
    """One request to make: where, with which fields, and what to expect back.

    Args:
        path: ``images/generations`` or ``images/edits``, relative to the base URL.
        fields: The body's fields (JSON for generations, form fields for edits).
        expected: Images asked for (``n``).
        stream: Whether the reply is a stream of events.
        output_format: The format asked for, when one was.
        warnings: What the request asked that will not happen exactly as asked.
        images: Input images of an edit, the one the mask applies to first.
        mask: The edit's mask, in the protocol's form (white repaints).
    """

    path: str
    fields: dict[str, Any]
    expected: int
    stream: bool
    output_format: OutputFormat | None
    warnings: list[GenerationWarning] = field(default_factory=list)
    images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None

    @property
    def is_edit(self) -> bool:
        """Whether this is an ``/images/edits`` call."""
        return self.path == EDITS


def refuse(setting: str, message: str) -> ImageGenError:
    """The ``invalid_request`` error for a value the model does not take."""
    return ImageGenError(
        f"{setting}: {message}", kind=ErrorKind.INVALID_REQUEST, retryable=False, backend="openai"
    )


def _sizes_text(sizes: frozenset[ImageSize]) -> str:
    return ", ".join(str(s) for s in sorted(sizes, key=lambda s: (s.width * s.height, s)))


def _size(request: ImageRequest, profile: ModelProfile, model: str) -> ImageSize | None:
    if request.size is not None:
        if request.size not in profile.accepted_sizes:
            raise refuse(
                "size",
                f"{request.size} is not a size {model} renders; choose one of "
                f"{_sizes_text(profile.accepted_sizes)} (or an aspect ratio)",
            )
        return request.size
    if request.aspect_ratio is not None:
        # The capability check already refused ratios the model does not offer.
        return profile.sizes[request.aspect_ratio]
    return None


def _model_options(
    settings: OpenAISettings,
    profile: ModelProfile,
    output_format: OutputFormat | None,
) -> dict[str, Any]:
    model = settings.model
    fields: dict[str, Any] = {}
    if settings.quality is not None:
        if settings.quality not in profile.qualities:
            offered = ", ".join(sorted(profile.qualities))
            raise refuse("quality", f"{model} takes {offered}, not {settings.quality!r}")
        fields["quality"] = settings.quality
    if settings.background is not None:
        if not profile.backgrounds:
            raise refuse("background", f"{model} has no background setting")
        if settings.background not in profile.backgrounds:
            raise refuse("background", f"{model} does not offer {settings.background!r}")
        if settings.background == "transparent" and output_format not in (
            None,
            *_TRANSPARENT_FORMATS,
        ):
            raise refuse("background", "transparent needs png or webp output")
        fields["background"] = settings.background
    if settings.moderation is not None:
        if not profile.gpt_image:
            raise refuse("moderation", f"{model} has no moderation setting")
        fields["moderation"] = settings.moderation
    if settings.style is not None:
        if settings.style not in profile.styles:
            raise refuse("style", f"{model} has no style setting (dall-e-3 has)")
        fields["style"] = settings.style
    if not profile.gpt_image:
        fields["response_format"] = settings.response_format
    if settings.user is not None:
        fields["user"] = settings.user
    return fields


def _compression(
    request: ImageRequest,
    settings: OpenAISettings,
    profile: ModelProfile,
    output_format: OutputFormat | None,
    warnings: list[GenerationWarning],
) -> int | None:
    wanted = request.quality if request.quality is not None else settings.output_compression
    if wanted is None or not profile.gpt_image:
        return None  # DALL-E's missing quality support is warned about by the capability check
    if output_format in _COMPRESSIBLE:
        return wanted
    warnings.append(
        GenerationWarning(
            "output compression applies to jpeg and webp only; "
            f"{(output_format or OutputFormat.PNG).value} output is sent uncompressed",
            kind=WarningKind.UNSUPPORTED_SETTING,
            setting="quality",
        )
    )
    return None


def build_call(request: ImageRequest, settings: OpenAISettings, profile: ModelProfile) -> Call:
    """The call for ``request``: a generation, or an edit when it carries images.

    Raises:
        ImageGenError: ``invalid_request`` for a size, option, prompt or input
            image the model does not take.
    """
    if not request.images:
        return _build(GENERATIONS, request, settings, profile)
    call = _build(EDITS, request, settings, profile)
    if settings.input_fidelity is not None:
        if settings.input_fidelity not in profile.input_fidelities:
            offered = ", ".join(sorted(profile.input_fidelities)) or "no input_fidelity"
            raise refuse(
                "input_fidelity",
                f"{settings.model} offers {offered}, not {settings.input_fidelity!r}",
            )
        call.fields["input_fidelity"] = settings.input_fidelity
    images = _edit_first(request.images)
    for position, image in enumerate(images):
        _check_input(f"input image {position}", image, profile, settings.model)
    if request.mask is not None:
        _check_input("mask", request.mask, profile, settings.model, any_format=True)
    return Call(
        path=EDITS,
        fields=call.fields,
        expected=call.expected,
        stream=call.stream,
        output_format=call.output_format,
        warnings=call.warnings,
        images=images,
        mask=request.mask,
    )


def _edit_first(images: tuple[InputImage, ...]) -> tuple[InputImage, ...]:
    edit = next((i for i, image in enumerate(images) if image.role is ImageRole.EDIT), None)
    if edit is None:
        return images
    return (images[edit], *images[:edit], *images[edit + 1 :])


def _check_input(
    what: str, image: InputImage, profile: ModelProfile, model: str, *, any_format: bool = False
) -> None:
    """Refuse, before any upload, an input the model would refuse (URL inputs: after download)."""
    if image.data is None:
        return
    allowed = UPLOAD_MEDIA_TYPES if profile.gpt_image else frozenset({"image/png"})
    if not any_format and image.media_type not in allowed:
        offered = ", ".join(sorted(t.removeprefix("image/") for t in allowed))
        raise refuse("images", f"{what} is {image.media_type}; {model} takes {offered}")
    if len(image.data) > profile.max_input_bytes:
        raise refuse(
            "images",
            f"{what} is {len(image.data):,} bytes; {model} takes at most "
            f"{profile.max_input_bytes:,}",
        )
    if not profile.gpt_image and image.size is not None and image.size.width != image.size.height:
        raise refuse("images", f"{what} is {image.size}; {model} edits square images only")


def _build(
    path: str, request: ImageRequest, settings: OpenAISettings, profile: ModelProfile
) -> Call:
    model = settings.model
    if len(request.prompt) > profile.max_prompt_chars:
        raise refuse(
            "prompt",
            f"{len(request.prompt)} characters is more than {model} takes "
            f"({profile.max_prompt_chars})",
        )
    warnings: list[GenerationWarning] = []
    output_format = request.output_format if profile.gpt_image else None
    fields: dict[str, Any] = {"model": model, "prompt": request.prompt, "n": request.num_images}
    size = _size(request, profile, model)
    if size is not None:
        fields["size"] = str(size)
    if output_format is not None:
        fields["output_format"] = output_format.value
    compression = _compression(request, settings, profile, output_format, warnings)
    if compression is not None:
        fields["output_compression"] = compression
    fields.update(_model_options(settings, profile, output_format))
    if settings.stream:
        if profile.streams:
            fields["stream"] = True
            fields["partial_images"] = settings.partial_images
        else:
            warnings.append(
                GenerationWarning(
                    f"{model} does not stream; the images arrive when all are done",
                    kind=WarningKind.UNSUPPORTED_SETTING,
                    setting="stream",
                )
            )
    fields.update(settings.extra_body)
    fields.update(request.options)
    return Call(
        path=path,
        fields=fields,
        expected=request.num_images,
        stream=bool(fields.get("stream", False)),
        output_format=output_format,
        warnings=warnings,
    )
