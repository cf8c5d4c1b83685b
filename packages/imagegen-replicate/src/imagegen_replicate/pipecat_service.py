"""``ReplicateImageGenService``: the drop-in replacement for the ``pipecat-replicate`` plugin.

It is the core's Pipecat service
(:class:`~imagegen_core.pipecat.BaseBackendImageGenService`) driving a
:class:`~imagegen_replicate.ReplicateBackend`, dressed in the old plugin's
constructor parameters and ``Settings`` names so that apps written for it
change only their import line. Everything Pipecat-specific comes through
:mod:`imagegen_core.pipecat`; this is the only module of the package
that imports it, and ``imagegen_replicate`` imports this one only on demand.

How the old names map:

* ``api_token``, ``base_url``, ``wait_timeout_secs``, ``poll_interval_secs``
  and ``max_poll_attempts`` become the backend's ``api_token``, ``base_url``,
  ``wait_seconds``, ``poll_interval`` and ``max_polls``; the backend's other
  settings (``timeout``, ``cleanup_timeout``, retries, ``capabilities``...),
  which the old plugin did not have, come through ``backend_settings``;
* ``Settings.model`` is the backend's ``model`` (deployments included);
* ``num_outputs``, ``aspect_ratio``, ``seed``, ``output_format`` and
  ``output_quality`` become the request's ``num_images``, ``aspect_ratio``,
  ``seed``, ``output_format`` and ``quality`` whenever the model's
  capabilities cover them (so flux-schnell checks them before any request);
  for a model the backend has no profile of, they are passed through as raw
  model inputs under their Replicate names, as the old plugin always did,
  instead of raising warnings on every prompt;
* ``num_inference_steps``, ``disable_safety_checker``, ``go_fast`` and
  ``megapixels`` are model inputs, passed through; ``None`` leaves one out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp
from pydantic import JsonValue, SecretStr

from imagegen_core import Capabilities, ErrorKind, ImageGenError, ImageRequest, OutputFormat
from imagegen_core.pipecat import (
    BaseBackendImageGenService,
    ImageGenSettings,
    NotGivenType,
    given_settings,
    not_given,
)
from imagegen_replicate._models import DEFAULT_MODEL, ModelRef, profile_for
from imagegen_replicate._settings import DEFAULT_WAIT_SECONDS, ReplicateSettings
from imagegen_replicate.backend import ReplicateBackend

__all__ = ["ReplicateImageGenService", "ReplicateImageGenSettings"]

_MODEL_INPUTS = ("num_inference_steps", "disable_safety_checker", "go_fast", "megapixels")
_SET_ELSEWHERE = {
    "api_token": "api_token",
    "base_url": "base_url",
    "wait_seconds": "wait_timeout_secs",
    "poll_interval": "poll_interval_secs",
    "max_polls": "max_poll_attempts",
    "model": "Settings.model",
}
"""Backend settings that have a parameter (or service setting) of their own."""


@dataclass
class ReplicateImageGenSettings(ImageGenSettings):
    """Runtime settings of :class:`ReplicateImageGenService`, named as the old plugin named them.

    Used in Pipecat's two modes: as a delta (fields not given stay as they
    are) and as the service's store. The service's defaults are the old
    plugin's: flux-schnell, ``1:1``, one image, 4 steps, random seed, WebP at
    quality 80, safety checker on, ``go_fast`` on, 1 megapixel.

    Parameters:
        model: ``owner/name``, ``owner/name:<version>``, a 64-hex version id,
            or ``deployments/owner/name``.
        aspect_ratio: Aspect ratio such as ``"16:9"``.
        num_outputs: Images per prompt (flux-schnell: 1 to 4).
        num_inference_steps: Denoising steps (flux-schnell: 1 to 4).
        seed: Seed for reproducible images; ``None`` for a random one.
        output_format: ``"webp"``, ``"jpg"`` or ``"png"`` (the file Replicate
            encodes; frames always carry raw RGB pixels).
        output_quality: Encoder quality, 0 to 100.
        disable_safety_checker: Turn the model's safety checker off.
        go_fast: Use the model's faster mode.
        megapixels: Approximate size, ``"1"`` or ``"0.25"`` for flux-schnell.
    """

    aspect_ratio: str | NotGivenType | None = field(default_factory=not_given)
    num_outputs: int | NotGivenType | None = field(default_factory=not_given)
    num_inference_steps: int | NotGivenType | None = field(default_factory=not_given)
    seed: int | NotGivenType | None = field(default_factory=not_given)
    output_format: str | NotGivenType | None = field(default_factory=not_given)
    output_quality: int | NotGivenType | None = field(default_factory=not_given)
    disable_safety_checker: bool | NotGivenType | None = field(default_factory=not_given)
    go_fast: bool | NotGivenType | None = field(default_factory=not_given)
    megapixels: str | NotGivenType | None = field(default_factory=not_given)

    _aliases: ClassVar[dict[str, str]] = {
        "num_images": "num_outputs",
        "quality": "output_quality",
    }
    """Provider-neutral names a delta may use for these settings."""


class ReplicateImageGenService(BaseBackendImageGenService[ReplicateImageGenSettings]):
    """Generate images on Replicate from ``TextFrame`` prompts, in a Pipecat pipeline.

    Example::

        async with aiohttp.ClientSession() as session:
            image_gen = ReplicateImageGenService(
                aiohttp_session=session,
                settings=ReplicateImageGenService.Settings(aspect_ratio="16:9"),
            )

    Args:
        aiohttp_session: Session for Replicate API requests and image
            downloads; it stays yours (never closed by the service).
        api_token: Replicate API token; without it, ``REPLICATE_API_TOKEN`` is
            read when a prompt arrives. Never written to the environment.
        settings: A settings delta over the defaults listed on
            :class:`ReplicateImageGenSettings`.
        base_url: Replicate API base URL; without it, ``REPLICATE_BASE_URL``,
            else ``https://api.replicate.com/v1``.
        wait_timeout_secs: Seconds Replicate holds the create request
            (``Prefer: wait``), 1 to 60. The old plugin's default was 60; it
            is 5 now, because an interruption can cancel the prediction only
            once that request's reply (with its id) is in. See
            ``docs/replicate.md``.
        poll_interval_secs: First wait between status polls; later waits grow.
        max_poll_attempts: Most status polls per prompt.
        backend_settings: Further :class:`~imagegen_replicate.ReplicateSettings`
            fields, such as ``timeout`` (the deadline of one prompt),
            ``cleanup_timeout``, ``max_attempts`` or ``capabilities``. Fields
            that have a parameter above (or, for ``model``, a setting) are
            refused here, so that there is one place to set each.
        **kwargs: Passed to the core service (``strict``, ``pixel_mode``,
            ``max_download_bytes``, ``max_pixels``, ...) and on to Pipecat.

    Raises:
        ImageGenError: ``invalid_request`` for settings that cannot work
            (``wait_timeout_secs`` out of range, an unknown aspect ratio...).
    """

    Settings = ReplicateImageGenSettings

    def __init__(
        self,
        *,
        aiohttp_session: aiohttp.ClientSession,
        api_token: str | None = None,
        settings: ReplicateImageGenSettings | None = None,
        base_url: str | None = None,
        wait_timeout_secs: int = DEFAULT_WAIT_SECONDS,
        poll_interval_secs: float = 0.5,
        max_poll_attempts: int = 120,
        backend_settings: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # Wrapped at once and the plain parameter dropped: this frame is in the
        # traceback of any error raised while the service is built, and such a
        # traceback may be rendered with its local variables.
        if api_token is not None and not isinstance(api_token, str):
            raise ImageGenError(
                f"api_token must be a string, not {type(api_token).__name__}",
                kind=ErrorKind.INVALID_REQUEST,
                backend="replicate",
            )
        token = SecretStr(api_token) if api_token is not None else None
        del api_token
        if backend_settings is not None and not isinstance(backend_settings, Mapping):
            raise ImageGenError(
                "backend_settings must be a mapping of ReplicateSettings fields, "
                f"not {type(backend_settings).__name__}",
                kind=ErrorKind.INVALID_REQUEST,
                backend="replicate",
            )
        extra = dict(backend_settings or {})
        # Like api_token above: a token put in backend_settings must not stay
        # in this frame, which is in the traceback of any error raised here.
        del backend_settings
        if clash := sorted(extra.keys() & _SET_ELSEWHERE.keys()):
            del extra
            raise ImageGenError(
                "backend_settings must not set "
                + ", ".join(f"{name!r} (use {_SET_ELSEWHERE[name]})" for name in clash),
                kind=ErrorKind.INVALID_REQUEST,
                backend="replicate",
            )
        fields: dict[str, Any] = {
            **extra,
            "api_token": token,
            "base_url": base_url,
            "wait_seconds": wait_timeout_secs,
            "poll_interval": poll_interval_secs,
            "max_polls": max_poll_attempts,
        }
        default_max_interval = ReplicateSettings.model_fields["poll_max_interval"].default
        if (
            "poll_max_interval" not in extra
            and isinstance(poll_interval_secs, int | float)
            and poll_interval_secs > default_max_interval
        ):  # a wrong type is left for the backend's settings to refuse, by name
            fields["poll_max_interval"] = poll_interval_secs
        backend = ReplicateBackend(fields, session=aiohttp_session)
        super().__init__(
            backend=backend,
            settings=settings,
            aiohttp_session=aiohttp_session,
            close_backend=True,
            **kwargs,
        )

    @property
    def replicate_backend(self) -> ReplicateBackend:
        """The backend this service drives."""
        backend = self.backend
        assert isinstance(backend, ReplicateBackend)  # built in __init__
        return backend

    def default_settings(self) -> ReplicateImageGenSettings:
        """The old plugin's defaults."""
        return ReplicateImageGenSettings(
            model=DEFAULT_MODEL,
            aspect_ratio="1:1",
            num_outputs=1,
            num_inference_steps=4,
            seed=None,
            output_format="webp",
            output_quality=80,
            disable_safety_checker=False,
            go_fast=True,
            megapixels="1",
        )

    def build_request(self, prompt: str, settings: ReplicateImageGenSettings) -> ImageRequest:
        """The request for ``prompt``: checked fields where the model has them, else raw inputs."""
        values = given_settings(settings)  # one pass, not a given() per setting per prompt
        capabilities = self._capabilities_for(values.get("model"))
        options: dict[str, JsonValue] = {
            name: values[name] for name in _MODEL_INPUTS if name in values
        }

        num_images = values.get("num_outputs", 1)
        if num_images > capabilities.max_images_per_call and capabilities.max_images_per_call == 1:
            # A model without a profile: let the model judge num_outputs.
            options["num_outputs"] = num_images
            num_images = 1

        output_format = values.get("output_format")
        checked_format: str | None = None
        if output_format is not None:
            try:
                parsed = OutputFormat.parse(output_format)
            except ValueError:
                parsed = None
            if parsed is not None and parsed in capabilities.output_formats:
                checked_format = output_format
            elif capabilities.output_formats:
                # The model's formats are known: one outside them would fail
                # every prompt, so it is refused when set, like a bad ratio.
                offered = ", ".join(sorted(f.value for f in capabilities.output_formats))
                raise ImageGenError(
                    f"output_format {output_format!r} is not offered by this model; "
                    f"choose one of: {offered}",
                    kind=ErrorKind.INVALID_REQUEST,
                    backend="replicate",
                )
            else:
                options["output_format"] = output_format

        quality = values.get("output_quality")
        if quality is not None and not capabilities.supports_quality:
            options["output_quality"] = quality
            quality = None

        options.update(values.get("extra", {}))
        request = ImageRequest(
            prompt=prompt,
            num_images=num_images,
            aspect_ratio=values.get("aspect_ratio"),
            seed=values.get("seed"),
            output_format=checked_format,
            quality=quality,
            options=options,
        )
        # Values the model cannot take at all (five images, a ratio flux-schnell
        # lacks) are refused now, so a bad setting or update fails when it is
        # made rather than at every prompt; warnings are left to the generation.
        capabilities.check(request, backend="replicate")
        return request

    def _capabilities_for(self, model: str | None) -> Capabilities:
        # The candidate's model, not the backend's current one: a settings
        # update is checked before the backend is switched to it.
        model = model or self.replicate_backend.settings.model
        try:
            ref = ModelRef.parse(model)
        except ValueError as exc:
            raise ImageGenError(
                str(exc), kind=ErrorKind.INVALID_REQUEST, backend="replicate"
            ) from None
        return profile_for(ref, self.replicate_backend.settings.capabilities).capabilities
