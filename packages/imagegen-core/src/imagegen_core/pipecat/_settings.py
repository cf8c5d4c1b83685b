"""Runtime settings of the Pipecat image service, in Pipecat's own settings mechanism.

Pipecat services keep their runtime-changeable settings in a dataclass used
two ways: as the *store* (every field holds a value) and as a *delta* (only
the fields to change are given; the rest are ``NOT_GIVEN``). Updates arrive
in a ``ServiceUpdateSettingsFrame``. Pipecat has no image-specific update
frame, so :class:`ImageGenUpdateSettingsFrame` is defined here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from loguru import logger
from pipecat.frames.frames import ServiceUpdateSettingsFrame
from pipecat.services.settings import ImageGenSettings, ServiceSettings

from imagegen_core.pipecat._compat import NOT_GIVEN, NotGivenType, is_given

__all__ = [
    "BackendImageGenSettings",
    "ImageGenSettings",
    "ImageGenUpdateSettingsFrame",
    "coerce_delta",
    "fill_unset",
    "not_given",
]

SettingsT = TypeVar("SettingsT", bound=ImageGenSettings)


def not_given() -> Any:
    """Default factory of a settings field that is ``NOT_GIVEN`` unless set (delta mode).

    ``steps: int | NotGivenType | None = field(default_factory=not_given)``
    """
    return NOT_GIVEN


@dataclass
class BackendImageGenSettings(ImageGenSettings):
    """The provider-neutral settings of ``BackendImageGenService``.

    Each maps onto the :class:`~imagegen_core.ImageRequest` field of the same
    name (``num_images`` ``None`` means one image); ``model`` is passed to the
    backend's own ``model`` setting, and ``extra`` becomes the request's
    backend-specific ``options``. ``None`` leaves a choice to the backend.

    Attributes:
        model: The backend's model, for backends that have a ``model`` setting.
        num_images: Images per prompt.
        aspect_ratio: Width:height such as ``"16:9"``; exclusive with ``size``.
        size: Exact ``"WIDTHxHEIGHT"``; exclusive with ``aspect_ratio``.
        seed: Seed for reproducible images.
        negative_prompt: What the images should not show.
        output_format: ``"png"``, ``"jpeg"`` or ``"webp"``: the file format the
            backend encodes (frames always carry raw pixels).
        quality: Encoder quality, 0-100.
        extra: Backend-specific inputs, passed through as request options.
    """

    num_images: int | NotGivenType | None = field(default_factory=not_given)
    aspect_ratio: str | NotGivenType | None = field(default_factory=not_given)
    size: str | tuple[int, int] | NotGivenType | None = field(default_factory=not_given)
    seed: int | NotGivenType | None = field(default_factory=not_given)
    negative_prompt: str | NotGivenType | None = field(default_factory=not_given)
    output_format: str | NotGivenType | None = field(default_factory=not_given)
    quality: int | NotGivenType | None = field(default_factory=not_given)


@dataclass
class ImageGenUpdateSettingsFrame(ServiceUpdateSettingsFrame):
    """Change an image service's settings while the pipeline runs.

    Put a delta in ``delta`` (for example
    ``BackendImageGenService.Settings(num_images=2)``); only the fields given
    change, starting with the next prompt. Set ``service`` to address one
    service; otherwise every image service the frame reaches applies it.
    """


def fill_unset(settings: SettingsT) -> SettingsT:
    """Turn a store into a complete one: every ``NOT_GIVEN`` field becomes ``None``.

    Pipecat logs an error at start for store fields left ``NOT_GIVEN``; a
    field a newer Pipecat adds to ``ImageGenSettings`` would otherwise be one.
    """
    for item in dataclasses.fields(settings):
        if item.name != "extra" and not is_given(getattr(settings, item.name)):
            setattr(settings, item.name, None)
    return settings


def coerce_delta(delta: ServiceSettings, settings_type: type[SettingsT]) -> SettingsT:
    """Read a delta of any settings type as one of ``settings_type``.

    A delta of the service's own type (or a subclass) is used as it is.
    Another one, such as the provider-neutral
    :class:`BackendImageGenSettings` sent to a service with its own names,
    is matched by field name and the target's ``_aliases``; fields the target
    does not know are dropped with a warning rather than sent to the backend
    as options, while the delta's own ``extra`` is kept.
    """
    if isinstance(delta, settings_type):
        return delta
    known = {f.name for f in dataclasses.fields(settings_type)} - {"extra"}
    aliases: dict[str, str] = getattr(settings_type, "_aliases", {})
    kwargs: dict[str, Any] = {}
    for item in dataclasses.fields(delta):
        value = getattr(delta, item.name)
        if item.name == "extra" or not is_given(value):
            continue
        name = aliases.get(item.name, item.name)
        if name in known:
            kwargs[name] = value
        else:
            logger.warning(f"{settings_type.__name__} has no setting {item.name!r}; ignored")
    coerced = settings_type(**kwargs)
    coerced.extra = dict(delta.extra)
    return coerced
