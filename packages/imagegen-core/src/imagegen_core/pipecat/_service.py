"""The one Pipecat image service, driving any imagegen backend.

``TextFrame`` in, one ``URLImageRawFrame`` per generated image out, in the
order the images finish. Everything Pipecat-specific lives in this folder,
:mod:`imagegen_core.pipecat`, so that a Pipecat release that moves things
breaks one folder, never a backend.

What the service adds on top of a backend:

- pixels: every image is fetched if it is a link (shared aiohttp session,
  concurrent, capped in bytes) and decoded off the event loop into raw pixels
  of one PIL mode (``"RGB"`` by default, transparency flattened onto white),
  capped in pixel count;
- errors: :class:`~imagegen_core.ImageGenError` becomes an ``ErrorFrame``
  whose ``ErrorCategory`` and permanence follow
  :func:`~imagegen_core.pipecat.failure_policy`, so
  ``ServiceSwitcher`` failover works across backends;
- cancellation: an interruption or a ``CancelFrame`` cancels the generation
  task, and the backend cancels its remote work before that completes;
- metrics: TTFB (request sent to first image handed over), processing time;
- runtime settings through Pipecat's settings-delta mechanism
  (:class:`~imagegen_core.pipecat._settings.ImageGenUpdateSettingsFrame`);
- editing: prompts that edit the service's last image (``edit_last_image``),
  the last ``UserImageRawFrame`` as an input (``user_image_role``), and the
  explicit :class:`~imagegen_core.pipecat.ImageGenEditFrame`;
- progress, when asked for: :class:`~imagegen_core.pipecat.ImageGenProgressFrame`
  and :class:`~imagegen_core.pipecat.ImageGenPreviewFrame` between a prompt
  and its images (off by default, so a pipeline sees what it saw before).

Pipecat has no usage metric for images (only LLM tokens, STT seconds and TTS
characters), so no usage metrics are reported.

Subclassing: :class:`BaseBackendImageGenService` holds all of this and is
generic in its settings dataclass; a service with its own settings names
(``ReplicateImageGenService``) subclasses it and implements
:meth:`~BaseBackendImageGenService.default_settings` and
:meth:`~BaseBackendImageGenService.build_request`, and may override
:meth:`~BaseBackendImageGenService.backend_updates` and
:meth:`~BaseBackendImageGenService.failure_policy`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from abc import abstractmethod
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiohttp
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    ServiceUpdateSettingsFrame,
    StartFrame,
    TextFrame,
    URLImageRawFrame,
    UserImageRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.image_service import ImageGenService
from pipecat.services.settings import ServiceSettings
from pydantic import SecretStr, ValidationError

from imagegen_core._backend import BackendSettings, Generation, ImageBackend
from imagegen_core._decode_pool import decode_off_loop, start_decode_workers
from imagegen_core._decoding import DEFAULT_MAX_PIXELS, DecodedImage, channels_of
from imagegen_core._downloads import (
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    download,
    guarded_connector,
    refuse_oversized_inline,
)
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._inputs import ImageRole, InputImage
from imagegen_core._redaction import detach_secrets, redact
from imagegen_core._render_stream import Arrived, Progressed, Rendered, RenderStream
from imagegen_core._request import ImageRequest
from imagegen_core._results import GeneratedImage
from imagegen_core._session import SessionOwner
from imagegen_core._validation import describe_validation
from imagegen_core.pipecat import _compat as compat
from imagegen_core.pipecat._compat import given, given_settings
from imagegen_core.pipecat._failover import FailurePolicy, failure_policy
from imagegen_core.pipecat._frames import (
    ImageGenEditFrame,
    ImageGenPreviewFrame,
    ImageGenProgressFrame,
)
from imagegen_core.pipecat._references import ImageMemory
from imagegen_core.pipecat._settings import (
    BackendImageGenSettings,
    ImageGenSettings,
    ImageGenUpdateSettingsFrame,
    check_setting_types,
    coerce_delta,
    fill_unset,
)

__all__ = ["BackendImageGenService", "BaseBackendImageGenService"]

SettingsT = TypeVar("SettingsT", bound=ImageGenSettings)

_MAPPED_SETTINGS = frozenset(
    {
        "model",  # the backend's own model setting, through backend_updates
        "extra",  # the request's options
        "num_images",
        "aspect_ratio",
        "size",
        "seed",
        "negative_prompt",
        "output_format",
        "quality",
    }
)
"""The fields of ``BackendImageGenSettings`` that reach the backend; others are refused."""

_PROBE_PROMPT = "settings check"
"""Prompt used to check that settings make a valid request before they are accepted."""


@dataclass(frozen=True, slots=True)
class _Picture:
    """A rendered image: its pixels, and the file they came from (kept for later edits)."""

    decoded: DecodedImage
    data: bytes


class BaseBackendImageGenService(ImageGenService, Generic[SettingsT]):
    """An image service driving an imagegen backend, generic in its settings dataclass.

    Use :class:`BackendImageGenService` unless you are writing a service with
    settings names of its own; then subclass this, set ``Settings``, and
    implement :meth:`default_settings` and :meth:`build_request`.

    Args:
        backend: A backend instance, a backend name (loaded through the
            ``imagegen.backends`` entry points), or None to pick one the way
            :func:`imagegen_core.plugins.create_backend` does
            (``IMAGEGEN_BACKEND``, else the only one installed).
        backend_settings: Settings for a backend the service creates (a name
            or None above); not allowed with a backend instance.
        settings: A settings delta applied over :meth:`default_settings`.
        aiohttp_session: Session used to download images returned as links.
            Without one, the service opens its own when first needed and
            closes it when the pipeline ends.
        strict: Fail requests that ask for something the backend cannot honour,
            instead of logging a warning and going on without it.
        pixel_mode: PIL mode of the frames' pixels: ``"RGB"`` (default),
            ``"RGBA"`` or ``"L"``. Transparency is flattened onto white for
            modes without alpha.
        max_download_bytes: Largest image file downloaded (default 50 MiB).
        max_pixels: Largest image decoded, in pixels (default 40 million).
        download_timeout: Time limits of each download attempt.
        close_backend: Whether the service closes the backend when the
            pipeline ends. By default it closes a backend it created and
            leaves alone one it was given.
        edit_last_image: Conversational editing: each prompt edits the last
            image this service produced (the first prompt, with none yet,
            generates). Needs a backend that takes an ``edit`` image.
        user_image_role: Use the last ``UserImageRawFrame`` (camera or
            screen) the service saw in the next prompt, in this role
            (``ImageRole.REFERENCE`` to draw from it, ``ImageRole.EDIT`` to
            change it); each frame is used once. None (default): user images
            are only used when an :class:`ImageGenEditFrame` asks.
        progress_frames: Push an :class:`ImageGenProgressFrame` for every
            progress report the backend makes.
        preview_frames: Push an :class:`ImageGenPreviewFrame` for every
            preview the backend streams.
        **kwargs: Passed on to Pipecat's ``ImageGenService`` (``name``, ...).

    Raises:
        ValueError: An unsupported ``pixel_mode`` or a non-positive limit.
        ImageGenError: ``invalid_request`` when the settings do not make a
            valid request, ask for what the backend cannot serve (or, strict,
            would ignore), or the backend rejects them; or when an editing
            mode asks for input images the backend does not take.
        imagegen_core.plugins.PluginError: No backend could be loaded by name.
    """

    _settings: SettingsT

    def __init__(
        self,
        *,
        backend: str | ImageBackend[Any] | None = None,
        backend_settings: BackendSettings | Mapping[str, Any] | None = None,
        settings: SettingsT | None = None,
        aiohttp_session: aiohttp.ClientSession | None = None,
        strict: bool = False,
        pixel_mode: str = "RGB",
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        download_timeout: aiohttp.ClientTimeout = DEFAULT_DOWNLOAD_TIMEOUT,
        close_backend: bool | None = None,
        edit_last_image: bool = False,
        user_image_role: ImageRole | None = None,
        progress_frames: bool = False,
        preview_frames: bool = False,
        **kwargs: Any,
    ) -> None:
        channels_of(pixel_mode)
        if max_download_bytes < 1 or max_pixels < 1:
            raise ValueError("max_download_bytes and max_pixels must be positive")
        try:
            self._backend, created = _resolve_backend(backend, backend_settings)
        except ImageGenError as error:
            # backend_settings may hold a credential, and this frame and those
            # below it are in the error's traceback: drop it before raising.
            detach_secrets(error, _texts_in(backend_settings))
            del backend_settings
            raise
        self._owns_backend = created if close_backend is None else close_backend
        self._sessions = SessionOwner(
            aiohttp_session,
            user=f"{type(self).__name__}",
            connector=lambda: guarded_connector(self._backend.address_policy()),
        )
        self._strict = strict
        self._pixel_mode = pixel_mode
        self._max_download_bytes = max_download_bytes
        self._max_pixels = max_pixels
        self._download_timeout = download_timeout
        self._streams: dict[RenderStream[_Picture], bool] = {}
        self._next_prompt_interruptible = True
        self._edit_last_image = edit_last_image
        self._user_image_role = None if user_image_role is None else _role(user_image_role)
        self._progress_frames = progress_frames
        self._preview_frames = preview_frames
        self._memory = ImageMemory()
        self._check_editing_modes()

        store = self.default_settings()
        if settings is not None:
            delta = coerce_delta(settings, type(store))
            check_setting_types(delta)
            store.apply_update(delta)
        fill_unset(store)
        everything = {f.name: getattr(store, f.name) for f in dataclasses.fields(store)}
        everything.pop("extra", None)
        self._adopt(store, {**everything, **store.extra}, refused="invalid settings")
        if given(store.model) is None:
            model = getattr(self._backend.settings, "model", None)
            store.model = model if isinstance(model, str) else None
        super().__init__(settings=store, **kwargs)

    # -- hooks for subclasses ---------------------------------------------------

    @abstractmethod
    def default_settings(self) -> SettingsT:
        """The complete settings the service starts from (store mode: no ``NOT_GIVEN``).

        Called once from ``__init__``, before Pipecat's base class is set up:
        use only constants and :attr:`backend`.
        """

    @abstractmethod
    def build_request(self, prompt: str, settings: SettingsT) -> ImageRequest:
        """The request to send for ``prompt`` under ``settings``.

        Called for every prompt with the current settings, and with candidate
        settings (and a placeholder prompt) to check them before they are
        accepted, at construction and on every update.

        Raises:
            pydantic.ValidationError: From building the :class:`ImageRequest`;
                reported as ``invalid_request``.
            ImageGenError: When the settings cannot make a request.
        """

    def backend_updates(self, changed: Mapping[str, Any]) -> dict[str, Any]:
        """Which backend settings to change for changed service settings.

        The default passes ``model`` on to a backend with a ``model`` setting
        (``None`` leaves the backend's own model in place); everything else is
        read per request by :meth:`build_request`.

        Args:
            changed: The service settings that change, with their new values
                (at construction: every setting). Keys of ``extra`` appear
                as their own names.

        Returns:
            Keyword arguments for the backend's ``update_settings``; empty for none.

        Raises:
            ImageGenError: ``invalid_request`` when a change cannot be applied;
                the update is then refused as a whole.
        """
        model = changed.get("model")
        if model is None:
            return {}
        if "model" not in self._backend.settings_model.model_fields:
            raise ImageGenError(
                f"backend {self._backend.name!r} has no model setting, so model={model!r} "
                "cannot be applied",
                kind=ErrorKind.INVALID_REQUEST,
                backend=self._backend.name,
            )
        return {"model": model}

    def failure_policy(
        self, error: ImageGenError, *, caused_by_application: bool = False
    ) -> FailurePolicy:
        """The ``ErrorCategory`` and permanence an error is reported with.

        The default is :func:`imagegen_core.pipecat.failure_policy`:
        credentials, quota, settings and (retries having been spent by the
        backend) rate-limit, connectivity, time-out and server failures make
        the service unusable so ``ServiceSwitcherStrategyFailover`` moves on;
        content refusals, bad prompts and unknown causes do not.
        """
        return failure_policy(error, caused_by_application=caused_by_application)

    # -- public state ---------------------------------------------------------------

    @property
    def backend(self) -> ImageBackend[Any]:
        """The backend this service drives."""
        return self._backend

    @property
    def strict(self) -> bool:
        """Whether settings the backend cannot honour fail the request."""
        return self._strict

    @property
    def edit_last_image(self) -> bool:
        """Whether prompts edit the last image this service produced."""
        return self._edit_last_image

    @property
    def user_image_role(self) -> ImageRole | None:
        """The role the last ``UserImageRawFrame`` takes in the next prompt, or None."""
        return self._user_image_role

    def can_generate_metrics(self) -> bool:
        """The service reports TTFB and processing metrics."""
        return True

    # -- frames ------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Handle settings updates and edit requests addressed to this service, and interruptions.

        Everything else is Pipecat's ``ImageGenService``: a ``TextFrame`` is
        pushed on and becomes a prompt (:meth:`run_image_gen`), other frames
        pass through (a ``UserImageRawFrame`` too, once noted for editing).
        """
        if isinstance(frame, ServiceUpdateSettingsFrame) and self._addressed_to_me(frame):
            # Lifecycle and observers, without ImageGenService passing the
            # frame on: an update a service applied stops there, as it does
            # for Pipecat's LLM, STT and TTS services.
            await super(ImageGenService, self).process_frame(frame, direction)
            await self._apply_settings_frame(frame)
            return
        if isinstance(frame, ImageGenEditFrame):
            # Addressed to the image service, like a prompt, but consumed:
            # nothing downstream knows what to do with it.
            await super(ImageGenService, self).process_frame(frame, direction)
            await self.start_processing_metrics()
            await self.process_generator(self._run_edit(frame))
            await self.stop_processing_metrics()
            return
        if isinstance(frame, UserImageRawFrame):
            self._memory.remember_user_frame(frame)
        if isinstance(frame, TextFrame):
            self._next_prompt_interruptible = compat.is_interruptible(frame)
        if isinstance(frame, InterruptionFrame):
            # Before the interruption goes on downstream, so that no image of
            # the interrupted prompt can follow it. Pipecat cancels the task
            # processing the prompt too, but not in every mode (direct mode
            # has no such task) nor when the consumer sits between two frames.
            # Quick: the generations end at once, remote cancels run on in
            # the background (awaited at shutdown).
            await self._cancel_generations(interruptible_only=True)
        await super().process_frame(frame, direction)

    async def run_image_gen(self, prompt: str) -> AsyncGenerator[Frame, None]:
        """Generate images for ``prompt``; yield a ``URLImageRawFrame`` per image as it is ready.

        With ``edit_last_image`` or ``user_image_role``, the prompt carries
        those images as inputs. Failures are pushed as error frames here
        rather than yielded, so that they carry their category and permanence.
        """
        interruptible, self._next_prompt_interruptible = self._next_prompt_interruptible, True
        try:
            images = await self._conversation_images()
        except ImageGenError as error:
            await self._report(error, caused_by_application=True)
            return
        async for frame in self._generate(prompt, images, None, interruptible=interruptible):
            yield frame

    async def _run_edit(self, frame: ImageGenEditFrame) -> AsyncGenerator[Frame, None]:
        """The frames for an :class:`ImageGenEditFrame`: its images gathered, then a generation."""
        try:
            images = [*frame.images]
            if frame.last_image is not None:
                images.append(await self._memory.last_image(_role(frame.last_image)))
            if frame.user_image is not None:
                images.append(await self._memory.take_user_image(_role(frame.user_image)))
        except ImageGenError as error:
            await self._report(error, caused_by_application=True)
            return
        interruptible = compat.is_interruptible(frame)
        async for out in self._generate(
            frame.prompt, images, frame.mask, interruptible=interruptible
        ):
            yield out

    async def _conversation_images(self) -> list[InputImage]:
        """The inputs the editing modes add to a prompt: the last image, then the user's."""
        images = []
        if self._edit_last_image and self._memory.has_last_image:
            images.append(await self._memory.last_image(ImageRole.EDIT))
        if self._user_image_role is not None and self._memory.has_user_image:
            images.append(await self._memory.take_user_image(self._user_image_role))
        return images

    async def _generate(
        self,
        prompt: str,
        images: Sequence[InputImage],
        mask: InputImage | None,
        *,
        interruptible: bool,
    ) -> AsyncGenerator[Frame, None]:
        """Run one generation and yield its frames: images, and progress when asked for."""
        try:
            request = self.build_request(prompt, self._settings)
        except ImageGenError as error:
            await self._report(error)
            return
        except ValueError as exc:  # pydantic's ValidationError included
            await self._report(_invalid(exc), caused_by_application=_only_prompt(exc))
            return
        try:
            request = _with_inputs(request, images, mask)
        except ValueError as exc:
            # The images came with the prompt (or were asked for by it): the
            # application's input, like a bad prompt; the service stays usable.
            await self._report(_invalid(exc, "invalid input images"), caused_by_application=True)
            return
        try:
            generation = self._backend.generate(request, strict=self._strict)
        except ImageGenError as error:
            await self._report(error)
            return

        stream = RenderStream(
            generation,
            self._render,
            progress=self._progress_frames,
            render_preview=self._render if self._preview_frames else None,
        )
        self._streams[stream] = interruptible
        waiting_for_first = True
        await self.start_ttfb_metrics()
        try:
            async for event in stream:
                self._log_warnings(generation)
                if isinstance(event, Arrived):
                    if waiting_for_first:
                        waiting_for_first = False
                        await self.stop_ttfb_metrics()
                    continue
                if isinstance(event, Progressed):
                    for frame in self._progress_frames_for(event):
                        yield frame
                    continue
                self._memory.remember_delivered(event.result.data, event.result.decoded)
                yield self._frame(event)
        except ImageGenError as error:
            await self._report(error, one_output=stream.failed_in_render)
            return
        finally:
            if waiting_for_first:
                # No first image (a failure, a cancellation, or a generation
                # that returned none): drop the measurement, or a later
                # interruption would report it as a TTFB of this prompt.
                await compat.cancel_ttfb_metrics(self)
            self._streams.pop(stream, None)
            await stream.cancel()
            self._log_warnings(generation)
        if not stream.cancel_requested:
            await compat.mark_usable(self)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, frame: StartFrame) -> None:
        """Start the decode worker processes with the pipeline, so the first image does not wait."""
        await super().start(frame)
        await asyncio.to_thread(start_decode_workers)

    async def stop(self, frame: EndFrame) -> None:
        """Release what the service owns when the pipeline ends."""
        await super().stop(frame)
        await self._shutdown()

    async def cancel(self, frame: CancelFrame) -> None:
        """Cancel every generation (the backends cancel their remote work), then release."""
        await super().cancel(frame)
        await self._shutdown()

    async def cleanup(self) -> None:
        """Release what the service owns, whatever way the pipeline stopped."""
        await super().cleanup()  # type: ignore[no-untyped-call]
        await self._shutdown()

    async def _shutdown(self) -> None:
        await self._cancel_generations(interruptible_only=False)
        # Cancels still in flight (an interruption's, or one a backend runs in
        # the background) need the sessions this shutdown, or the app right
        # after it, closes: wait for them (bounded) even for a backend the
        # service does not own.
        await self._backend.wait_for_cleanups()
        if self._owns_backend:
            try:
                await self._backend.aclose()
            except Exception as exc:
                logger.warning(f"{self}: closing backend {self._backend.name!r} failed: {exc!r}")
        await self._sessions.aclose()

    async def _cancel_generations(self, *, interruptible_only: bool) -> None:
        streams = [
            stream
            for stream, interruptible in self._streams.items()
            if interruptible or not interruptible_only
        ]
        if not streams:
            return
        await asyncio.gather(*(stream.cancel() for stream in streams))
        for stream in streams:
            if stream.done:
                self._streams.pop(stream, None)

    # -- settings ----------------------------------------------------------------------

    def _addressed_to_me(self, frame: ServiceUpdateSettingsFrame) -> bool:
        if frame.service is not None:
            return frame.service is self
        return isinstance(frame, ImageGenUpdateSettingsFrame)

    async def _apply_settings_frame(self, frame: ServiceUpdateSettingsFrame) -> None:
        if frame.delta is not None:
            await self._update_settings(frame.delta)
        elif frame.settings:
            if not isinstance(frame.settings, Mapping):
                error = ImageGenError(
                    f"settings update refused: settings must be a mapping of names to values, "
                    f"not {type(frame.settings).__name__}",
                    kind=ErrorKind.INVALID_REQUEST,
                )
                await self._report(error, caused_by_application=True)
                return
            await self._update_settings(type(self._settings).from_mapping(frame.settings))

    async def _update_settings(self, delta: ServiceSettings) -> dict[str, Any]:
        """Apply a settings delta once it is known to make valid requests.

        The candidate settings go through the same checks as the starting
        ones (:meth:`_adopt`: field types, :meth:`build_request`, the
        backend part through :meth:`backend_updates`, the backend's
        capabilities); if any fails, nothing changes and the failure is
        reported as an ``ErrorFrame`` (category ``APPLICATION``, service still
        usable, so a ``ServiceSwitcher`` does not fail over for it).

        Returns:
            The changed fields with their previous values.
        """
        refused = "settings update refused"
        try:
            own = coerce_delta(delta, type(self._settings))
            check_setting_types(own, refused=refused)
            candidate = self._settings.copy()
            changed = candidate.apply_update(own)
            if changed:
                self._adopt(
                    candidate, {name: _value(candidate, name) for name in changed}, refused=refused
                )
        except ImageGenError as error:
            if not error.message.startswith(refused):
                error = error.copy_with(message=f"{refused}: {error.message}")
            await self._report(error, caused_by_application=True)
            return {}
        if not changed:
            return {}
        result: dict[str, Any] = await super()._update_settings(own)
        return result

    def _check_editing_modes(self) -> None:
        """Refuse editing modes the backend cannot serve: every prompt would fail."""
        capabilities = self._backend.capabilities
        modes = {"edit_last_image": ImageRole.EDIT if self._edit_last_image else None}
        modes["user_image_role"] = self._user_image_role
        for mode, role in modes.items():
            if role is None or (capabilities.max_input_images and role in capabilities.input_roles):
                continue
            takes = (
                "takes no input images"
                if not capabilities.max_input_images
                else f"takes no input image in the role {role.value!r}"
            )
            raise ImageGenError(
                f"{mode} cannot be used: backend {self._backend.name!r} {takes}",
                kind=ErrorKind.INVALID_REQUEST,
                backend=self._backend.name,
            )

    def _adopt(self, candidate: SettingsT, changed: Mapping[str, Any], *, refused: str) -> None:
        """Apply ``candidate``'s backend part, or refuse it unchanged if no prompt could succeed.

        One path for the starting settings and for every update, so that an
        update can never set what construction would refuse: the request
        :meth:`build_request` makes of them, then the backend's settings
        (:meth:`backend_updates`), then the backend's capabilities under those
        (too many images, an aspect ratio it does not offer; in strict mode
        anything it would ignore). The backend's settings are put back when a
        later step refuses.

        Raises:
            ImageGenError: ``invalid_request``, its message starting with ``refused``.
        """
        try:
            request = self.build_request(_PROBE_PROMPT, candidate)
        except ValueError as exc:  # pydantic's ValidationError included
            raise _invalid(exc, refused) from None
        updates = self.backend_updates(changed)
        previous = {name: getattr(self._backend.settings, name, None) for name in updates}
        if updates:
            self._backend.update_settings(**updates)
        try:
            warnings = self._backend.capabilities.check(request, backend=self._backend.name)
            if self._strict and warnings:
                raise ImageGenError(
                    f"strict mode: {warnings[0]}",
                    kind=ErrorKind.INVALID_REQUEST,
                    backend=self._backend.name,
                )
        except ImageGenError:
            if updates:
                self._backend.update_settings(**previous)
            raise

    # -- images ------------------------------------------------------------------------

    async def _render(self, image: GeneratedImage) -> _Picture:
        data = image.data
        if data is None:
            url = image.url or ""
            fetched = await download(
                self._sessions.get(),
                url,
                max_bytes=self._max_download_bytes,
                client_timeout=self._download_timeout,
                addresses=self._backend.address_policy(),
            )
            data = fetched.data
        else:
            refuse_oversized_inline(data, self._max_download_bytes, image.index)
        decoded = await decode_off_loop(data, mode=self._pixel_mode, max_pixels=self._max_pixels)
        return _Picture(decoded, data)

    def _frame(self, event: Rendered[_Picture]) -> URLImageRawFrame:
        decoded, image = event.result.decoded, event.image
        frame = URLImageRawFrame(
            image=decoded.pixels,
            size=(decoded.size.width, decoded.size.height),
            format=decoded.mode,
            url=image.url,
        )
        frame.metadata["imagegen"] = self._metadata(image)
        return frame

    def _progress_frames_for(self, event: Progressed[_Picture]) -> list[Frame]:
        """The frames one progress report becomes, as the service was asked for them."""
        frames: list[Frame] = []
        if self._progress_frames:
            frames.append(ImageGenProgressFrame(progress=event.progress))
        preview = event.progress.preview
        if event.preview is not None and preview is not None:
            decoded = event.preview.decoded
            frame = ImageGenPreviewFrame(
                image=decoded.pixels,
                size=(decoded.size.width, decoded.size.height),
                format=decoded.mode,
            )
            frame.metadata["imagegen"] = {**self._metadata(preview), "preview": True}
            frames.append(frame)
        return frames

    def _metadata(self, image: GeneratedImage) -> dict[str, Any]:
        return {
            **dict(image.metadata),
            "backend": self._backend.name,
            "index": image.index,
            "media_type": image.media_type,
        }

    # -- errors and warnings -------------------------------------------------------

    async def _report(
        self,
        error: ImageGenError,
        *,
        caused_by_application: bool = False,
        one_output: bool = False,
    ) -> None:
        policy = self.failure_policy(error, caused_by_application=caused_by_application)
        if one_output and not error.retryable:
            # One output of a reply could not be used (a link to a private
            # address or a file: URL, a file too large): the provider worked,
            # and the next prompt may well succeed. Transient failures, their
            # retries spent, still mean the provider's files are unreachable.
            policy = dataclasses.replace(policy, permanent=False)
        secrets = list(self._backend.secret_values())
        message = redact(str(error), secrets)
        # The frame carries the exception itself, for error trackers to walk.
        error = detach_secrets(error, secrets)
        await compat.push_error(self, message, exception=error, policy=policy)

    def _log_warnings(self, generation: Generation) -> None:
        for warning in generation.unreported_warnings():
            logger.warning(f"{self}: {warning}")


class BackendImageGenService(BaseBackendImageGenService[BackendImageGenSettings]):
    """Pipecat image service for any imagegen backend, with provider-neutral settings.

    Example::

        image_gen = BackendImageGenService(
            backend="replicate",
            settings=BackendImageGenService.Settings(aspect_ratio="16:9"),
        )

    See :class:`BaseBackendImageGenService` for the arguments.
    """

    Settings = BackendImageGenSettings

    def default_settings(self) -> BackendImageGenSettings:
        """One image, every other choice left to the backend."""
        return BackendImageGenSettings(
            model=None,
            num_images=1,
            aspect_ratio=None,
            size=None,
            seed=None,
            negative_prompt=None,
            output_format=None,
            quality=None,
        )

    def build_request(self, prompt: str, settings: BackendImageGenSettings) -> ImageRequest:
        """Map each setting onto the request field of the same name; ``extra`` becomes options.

        A setting this method does not map (one a newer Pipecat adds to its
        ``ImageGenSettings``, say) is refused when it is set, never dropped:
        ``tests/pipecat/test_settings_mapping.py`` fails until it is mapped here
        or listed as refused.

        Raises:
            ImageGenError: ``invalid_request`` for a set setting that is not mapped.
        """
        values = given_settings(settings)
        unmapped = [name for name in values if name not in _MAPPED_SETTINGS]
        if unmapped:
            raise ImageGenError(
                f"{type(self).__name__} cannot send setting(s) {', '.join(unmapped)} to a "
                "backend; leave them unset, or pass backend-specific inputs in `extra`",
                kind=ErrorKind.INVALID_REQUEST,
                backend=self._backend.name,
            )
        return ImageRequest(
            prompt=prompt,
            negative_prompt=values.get("negative_prompt"),
            num_images=values.get("num_images", 1),
            aspect_ratio=values.get("aspect_ratio"),
            size=values.get("size"),
            seed=values.get("seed"),
            output_format=values.get("output_format"),
            quality=values.get("quality"),
            options=values.get("extra", {}),  # copied, read-only, by the request
        )


def _resolve_backend(
    backend: str | ImageBackend[Any] | None,
    backend_settings: BackendSettings | Mapping[str, Any] | None,
) -> tuple[ImageBackend[Any], bool]:
    """The backend to drive, and whether the service created it."""
    if isinstance(backend, ImageBackend):
        if backend_settings is not None:
            raise ValueError("backend_settings apply only to a backend the service creates")
        return backend, False
    if backend is not None and not isinstance(backend, str):
        raise TypeError(f"backend must be a name or an ImageBackend, not {type(backend).__name__}")
    # Imported here: plugin loading is needed only when a backend is chosen by name.
    from imagegen_core.plugins import create_backend

    return create_backend(backend, backend_settings), True


def _texts_in(settings: BackendSettings | Mapping[str, Any] | None) -> Iterator[str]:
    """Every text in backend settings, any of which may be a credential."""
    if isinstance(settings, BackendSettings):
        settings = dict(settings)
    if not isinstance(settings, Mapping):
        return
    for value in settings.values():
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, str):
            yield value


def _with_inputs(
    request: ImageRequest, images: Sequence[InputImage], mask: InputImage | None
) -> ImageRequest:
    """``request`` with these input images before its own, and this mask unless None.

    Validated again as a whole, so a mask that does not fit its image (or too
    many images) is refused here, before any network call.

    Raises:
        pydantic.ValidationError: The inputs do not make a valid request.
    """
    if not images and mask is None:
        return request
    fields = {name: getattr(request, name) for name in type(request).model_fields}
    fields["images"] = (*images, *request.images)
    fields["mask"] = mask if mask is not None else request.mask
    return type(request)(**fields)


def _role(value: str) -> ImageRole:
    """An edit frame's role, or ``invalid_request`` naming the roles there are."""
    try:
        return ImageRole(value)
    except ValueError:
        roles = ", ".join(repr(role.value) for role in ImageRole)
        raise ImageGenError(
            f"image role must be one of {roles}, got {value!r}", kind=ErrorKind.INVALID_REQUEST
        ) from None


def _value(settings: ServiceSettings, name: str) -> Any:
    if any(f.name == name for f in dataclasses.fields(settings)):
        return getattr(settings, name)
    return settings.extra.get(name)


def _invalid(exc: ValueError, what: str = "invalid request") -> ImageGenError:
    """An ``invalid_request`` error naming each field pydantic refused (never the input)."""
    detail = describe_validation(exc, "request") if isinstance(exc, ValidationError) else exc
    return ImageGenError(f"{what}: {detail}", kind=ErrorKind.INVALID_REQUEST)


def _only_prompt(exc: ValueError) -> bool:
    """Whether every problem is with the prompt, which the application supplies per frame."""
    if not isinstance(exc, ValidationError):
        return False
    errors = exc.errors(include_url=False, include_input=False)
    return bool(errors) and all(error["loc"][:1] == ("prompt",) for error in errors)
