"""Runtime settings of the Pipecat image service, in Pipecat's own settings mechanism.

Pipecat services keep their runtime-changeable settings in a dataclass used
two ways: as the *store* (every field holds a value) and as a *delta* (only
the fields to change are given; the rest are ``NOT_GIVEN``). Updates arrive
in a ``ServiceUpdateSettingsFrame``. Pipecat has no image-specific update
frame, so :class:`ImageGenUpdateSettingsFrame` is defined here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from loguru import logger
from pipecat.frames.frames import ServiceUpdateSettingsFrame
from pipecat.services.settings import ImageGenSettings, ServiceSettings
from pydantic import TypeAdapter, ValidationError

from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core.pipecat._compat import NOT_GIVEN, NotGivenType, is_given

__all__ = [
    "BackendImageGenSettings",
    "ImageGenSettings",
    "ImageGenUpdateSettingsFrame",
    "check_setting_types",
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

    Raises:
        ImageGenError: ``invalid_request`` when ``delta`` is no settings dataclass.
    """
    if not isinstance(delta, ServiceSettings):
        raise ImageGenError(
            f"settings must be a {settings_type.__name__}, not {type(delta).__name__}",
            kind=ErrorKind.INVALID_REQUEST,
        )
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


def check_setting_types(settings: ServiceSettings, *, refused: str = "invalid settings") -> None:
    """Refuse values whose type is not the one their settings field declares.

    A settings dataclass does not check its fields, so without this a string
    where a number belongs (``num_outputs="2"``) travels on until some
    comparison fails with a bare ``TypeError`` or ``AttributeError``, at
    construction or at the next prompt. Every given field is checked against
    its annotation (``NOT_GIVEN`` aside) strictly: no text is read as a
    number, no number as text, no ``True`` as ``1``. A list stands for a tuple,
    since settings sent as JSON have no tuples. ``extra`` must be a mapping
    with text keys; its values are the backend's to judge.

    Args:
        settings: A delta or a store.
        refused: How the message begins.

    Raises:
        ImageGenError: ``invalid_request``, naming each field with a wrong
            type and what it takes (never the value, which may be anything).
    """
    problems: list[str] = []
    for name, (expected, adapter) in _field_checks(type(settings)).items():
        value = getattr(settings, name, None)
        if not is_given(value) or value is None:
            continue
        try:
            adapter.validate_python(tuple(value) if isinstance(value, list) else value, strict=True)
        except ValidationError:
            problems.append(f"{name} must be {expected}, not {type(value).__name__}")
    extra = getattr(settings, "extra", {})
    if not isinstance(extra, Mapping) or not all(isinstance(key, str) for key in extra):
        problems.append("extra must be a mapping of setting names to values")
    if problems:
        raise ImageGenError(f"{refused}: {'; '.join(problems)}", kind=ErrorKind.INVALID_REQUEST)


_FieldChecks = dict[str, tuple[str, TypeAdapter[Any]]]
_field_checks_made: dict[type[ServiceSettings], _FieldChecks] = {}


def _field_checks(settings_type: type[ServiceSettings]) -> _FieldChecks:
    """Per field of ``settings_type``: a readable name of its type and a validator for it.

    Made once per settings class (validators are not cheap to build).
    """
    if settings_type not in _field_checks_made:
        _field_checks_made[settings_type] = _make_field_checks(settings_type)
    return _field_checks_made[settings_type]


def _make_field_checks(settings_type: type[ServiceSettings]) -> _FieldChecks:
    try:
        hints = typing.get_type_hints(settings_type)
    except Exception as exc:  # an annotation this Python cannot resolve
        logger.warning(f"cannot read the field types of {settings_type.__name__}: {exc!r}")
        return {}
    checks: _FieldChecks = {}
    for item in dataclasses.fields(settings_type):
        if item.name == "extra" or item.name not in hints:
            continue
        members = _union_members(hints[item.name])
        options = [option for option in members if option not in (NotGivenType, type(None))]
        if not options or Any in options:
            continue
        expected = " or ".join(_type_name(option) for option in options)
        union: Any = typing.Union[tuple(options)]  # noqa: UP007 (built at run time)
        checks[item.name] = (expected, TypeAdapter(union))
    return checks


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")
