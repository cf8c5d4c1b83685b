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
    ImageSize,
    OutputFormat,
    WarningKind,
)
from imagegen_openai._models import ModelProfile
from imagegen_openai._settings import OpenAISettings

__all__ = ["GENERATIONS", "Call", "build_generation"]

GENERATIONS = "images/generations"
EDITS = "images/edits"

_COMPRESSIBLE = frozenset({OutputFormat.JPEG, OutputFormat.WEBP})
_TRANSPARENT_FORMATS = frozenset({OutputFormat.PNG, OutputFormat.WEBP})


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
    """

    path: str
    fields: dict[str, Any]
    expected: int
    stream: bool
    output_format: OutputFormat | None
    warnings: list[GenerationWarning] = field(default_factory=list)


def _refuse(setting: str, message: str) -> ImageGenError:
    return ImageGenError(
        f"{setting}: {message}", kind=ErrorKind.INVALID_REQUEST, retryable=False, backend="openai"
    )


def _sizes_text(sizes: frozenset[ImageSize]) -> str:
    return ", ".join(str(s) for s in sorted(sizes, key=lambda s: (s.width * s.height, s)))


def _size(request: ImageRequest, profile: ModelProfile, model: str) -> ImageSize | None:
    if request.size is not None:
        if request.size not in profile.accepted_sizes:
            raise _refuse(
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
            raise _refuse("quality", f"{model} takes {offered}, not {settings.quality!r}")
        fields["quality"] = settings.quality
    if settings.background is not None:
        if not profile.backgrounds:
            raise _refuse("background", f"{model} has no background setting")
        if settings.background not in profile.backgrounds:
            raise _refuse("background", f"{model} does not offer {settings.background!r}")
        if settings.background == "transparent" and output_format not in (
            None,
            *_TRANSPARENT_FORMATS,
        ):
            raise _refuse("background", "transparent needs png or webp output")
        fields["background"] = settings.background
    if settings.moderation is not None:
        if not profile.gpt_image:
            raise _refuse("moderation", f"{model} has no moderation setting")
        fields["moderation"] = settings.moderation
    if settings.style is not None:
        if settings.style not in profile.styles:
            raise _refuse("style", f"{model} has no style setting (dall-e-3 has)")
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


def build_generation(
    request: ImageRequest, settings: OpenAISettings, profile: ModelProfile
) -> Call:
    """The ``/images/generations`` call for ``request``.

    Raises:
        ImageGenError: ``invalid_request`` for a size, option or prompt the
            model does not take.
    """
    return _build(GENERATIONS, request, settings, profile)


def _build(
    path: str, request: ImageRequest, settings: OpenAISettings, profile: ModelProfile
) -> Call:
    model = settings.model
    if len(request.prompt) > profile.max_prompt_chars:
        raise _refuse(
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
