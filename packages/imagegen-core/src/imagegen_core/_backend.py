"""The interface every image backend implements, with no Pipecat in it.

A third-party author subclasses :class:`ImageBackend`, declares a pydantic
settings model and :class:`~imagegen_core.Capabilities`, and writes one async
generator, :meth:`ImageBackend._generate`. Everything every backend would
otherwise repeat lives here instead: checking a request against the
capabilities, collecting warnings, strict mode, turning stray exceptions into
:class:`~imagegen_core.ImageGenError`, scrubbing secrets from messages, and
idempotent closing.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from imagegen_core._addresses import AddressPolicy
from imagegen_core._cancellation import DEFAULT_SHUTDOWN_TIMEOUT, CleanupTracker, tracking_cleanups
from imagegen_core._capabilities import Capabilities
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._progress import GenerationEvent, GenerationProgress
from imagegen_core._redaction import detach_secrets, redact
from imagegen_core._request import ImageRequest
from imagegen_core._results import GeneratedImage, GenerationWarning
from imagegen_core._validation import describe_validation

__all__ = ["BackendItem", "BackendSettings", "Generation", "ImageBackend"]

BackendItem = GeneratedImage | GenerationWarning | GenerationProgress
"""What :meth:`ImageBackend._generate` may yield."""


class BackendSettings(BaseModel):
    """Base for a backend's settings: validated, immutable, with a JSON schema.

    Unknown fields are rejected so a typo fails loudly. Secrets belong in
    :class:`pydantic.SecretStr` fields: they are then hidden from ``repr`` and
    scrubbed from every error message the backend raises.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


SettingsT = TypeVar("SettingsT", bound=BackendSettings)


class ImageBackend(ABC, Generic[SettingsT]):
    """An image generator behind the imagegen protocol.

    Subclasses set :attr:`name` (the entry-point name), :attr:`settings_model`,
    implement :attr:`capabilities` and :meth:`_generate`, and may override
    :meth:`_aclose` to release connections.

    Args:
        settings: The backend's settings, as the model or a mapping of its fields.

    Raises:
        ImageGenError: ``invalid_request`` when the settings do not validate.
    """

    name: ClassVar[str]
    """The backend's name, equal to its entry-point name."""
    settings_model: ClassVar[type[BackendSettings]]
    """The pydantic model of the backend's settings."""

    def __init__(self, settings: SettingsT | Mapping[str, Any] | None = None) -> None:
        self._settings: SettingsT = self._validate_settings(
            settings if settings is not None else {}
        )
        self._closed = False

    # -- settings -------------------------------------------------------------

    @property
    def settings(self) -> SettingsT:
        """The current settings (immutable; change them with :meth:`update_settings`)."""
        return self._settings

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        """Change some settings; later generations use the new values.

        Returns:
            The fields whose value actually changed, with their new values.

        Raises:
            ImageGenError: ``invalid_request`` when the result does not validate;
                the old settings then stay in force.
        """
        current = dict(self._settings)
        updated = self._validate_settings({**current, **changes})
        changed = {k: v for k, v in dict(updated).items() if current.get(k) != v}
        self._settings = updated
        return changed

    @classmethod
    def settings_schema(cls) -> dict[str, Any]:
        """The JSON schema of this backend's settings, for docs and UIs."""
        return cls.settings_model.model_json_schema()

    def _validate_settings(self, settings: SettingsT | Mapping[str, Any]) -> SettingsT:
        try:
            validated = self.settings_model.model_validate(settings)
        except ValidationError as exc:
            refusal = ImageGenError(
                f"invalid settings for backend {self.name!r}: {describe_validation(exc)}",
                kind=ErrorKind.INVALID_REQUEST,
                backend=self.name,
            )
        else:
            return validated  # type: ignore[return-value]
        # Raised outside the handler: pydantic's error quotes the values it was
        # given, credentials included, and must not ride along as __context__.
        raise refusal

    # -- the protocol -----------------------------------------------------------

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What this backend honours with its current settings."""

    @abstractmethod
    def _generate(self, request: ImageRequest) -> AsyncIterator[BackendItem]:
        """Produce the images for a request that already passed the capability check.

        Write it as an async generator (or a method returning one, built
        here when the generation is first iterated): yield each :class:`GeneratedImage` as
        soon as it is ready, a :class:`GenerationWarning` for anything the
        caller should know (fewer images than asked, say), and a
        :class:`~imagegen_core.GenerationProgress` whenever the provider
        reports progress (only then: never invent a fraction). Raise
        :class:`ImageGenError` for failures.

        Cancellation rule: if the driving task is cancelled after remote work
        started, cancel that work before re-raising, within a bounded time;
        :func:`imagegen_core.finish_cleanup` does the bounding.
        """

    def generate(self, request: ImageRequest, *, strict: bool = False) -> Generation:
        """Start generating; iterate the result for images in completion order.

        The request is checked against :attr:`capabilities` now, before any
        network call.

        Args:
            request: What to generate.
            strict: Turn warnings about unsupported settings into errors.

        Raises:
            ImageGenError: The request cannot be honoured, the backend is
                closed, or (strict) a setting would be ignored.
        """
        if self._closed:
            raise ImageGenError(
                "backend is closed", kind=ErrorKind.INVALID_REQUEST, backend=self.name
            )
        warnings = self.capabilities.check(request, backend=self.name)
        generation = Generation(self, request, strict=strict)
        for warning in warnings:
            generation.add_warning(warning)
        return generation

    async def aclose(self) -> None:
        """Release connections and other resources. Safe to call more than once.

        Remote clean-ups still in flight (a cancel request sent on an
        interruption) are waited for first, bounded by
        :data:`~imagegen_core.DEFAULT_SHUTDOWN_TIMEOUT`: closing the session
        under them would abort the cancel and leave the remote work running.
        """
        if self._closed:
            return
        self._closed = True
        await self.wait_for_cleanups()
        await self._aclose()

    async def wait_for_cleanups(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> bool:  # noqa: ASYNC109 - bounds the wait itself
        """Wait, at most ``timeout``, for this backend's remote clean-ups in flight.

        These are the clean-ups its generations started with
        :func:`~imagegen_core.finish_cleanup` or
        :func:`~imagegen_core.cleanup_in_background` that have not finished
        yet (each is bounded by its own timeout too). Call it before closing
        a session the backend sends with; :meth:`aclose` calls it itself.

        Returns:
            Whether none is left running.
        """
        return await self._cleanup_tracker.wait(timeout)

    @property
    def cleanups_pending(self) -> int:
        """How many of this backend's remote clean-ups are still running.

        An interrupted generation returns at once and may leave its remote
        cancel running on its own (:func:`~imagegen_core.cleanup_in_background`);
        this counts those, for an app's health checks and for tests.
        """
        return self._cleanup_tracker.pending

    @property
    def _cleanup_tracker(self) -> CleanupTracker:
        # Made on first use rather than in __init__, so a subclass that
        # forgets to call super().__init__() still has its clean-ups tracked.
        tracker: CleanupTracker | None = self.__dict__.get("_cleanups")
        if tracker is None:
            tracker = self.__dict__["_cleanups"] = CleanupTracker()
        return tracker

    async def _aclose(self) -> None:
        """Release resources; called once by :meth:`aclose`. Override as needed."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has been called."""
        return self._closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- links ------------------------------------------------------------------

    def address_policy(self) -> AddressPolicy:
        """Where the links this backend's provider returns may be fetched from.

        The default is :meth:`AddressPolicy.for_settings`: the host of the API
        base URL is trusted (so an emulator or a self-hosted provider on
        ``127.0.0.1`` or the LAN works with no setting), an
        ``allow_private_urls`` setting set to true allows every private,
        loopback and link-local address, and other such targets are refused.
        Override for anything else.
        """
        return AddressPolicy.for_settings(self._settings)

    # -- secrets ----------------------------------------------------------------

    def secret_values(self) -> Iterable[str]:
        """Every credential this backend holds, so messages can be scrubbed of them.

        The default finds :class:`~pydantic.SecretStr` settings; override to add
        credentials kept elsewhere (and call ``super()``).
        """
        for value in dict(self._settings).values():
            if isinstance(value, SecretStr):
                yield value.get_secret_value()

    def __repr__(self) -> str:
        # Settings hide SecretStr values in their own repr. A backend whose
        # constructor raised has none yet, and still sits in that traceback's
        # frame locals: a repr that raised there would break every tool that
        # renders them (traceback's capture_locals, error trackers).
        settings = getattr(self, "_settings", None)
        shown = "not set" if settings is None else repr(settings)
        return f"{type(self).__name__}(name={self.name!r}, settings={shown})"


class Generation(AsyncIterator[GeneratedImage]):
    """One running generation: an async iterator of images plus its warnings.

    Iterate it (``async for image in backend.generate(request)``) to receive
    each image as it is ready; progress reports are skipped (the latest is
    kept in :attr:`progress`). Iterate :meth:`events` instead to receive
    images and :class:`~imagegen_core.GenerationProgress` reports in the
    order the backend produced them. Use one of the two per generation.
    :attr:`warnings` fills as the backend reports settings it ignored or
    results that fell short. Never more images than the request's
    ``num_images`` come out: extras a backend yields are dropped, with a
    warning. Any exception other than cancellation leaves as
    :class:`ImageGenError`, with secrets scrubbed.
    """

    def __init__(self, backend: ImageBackend[Any], request: ImageRequest, *, strict: bool) -> None:
        self.request = request
        self.strict = strict
        self.warnings: list[GenerationWarning] = []
        self._backend = backend
        self.progress: GenerationProgress | None = None
        """The latest progress report, or None while the backend has reported none."""
        self._source: AsyncIterator[BackendItem] | None = None
        self._finished = False
        self._reported = 0
        self._images_seen = 0
        self.images_dropped = 0
        """Images the backend yielded beyond the request's ``num_images`` (dropped, not yielded)."""

    def add_warning(self, warning: GenerationWarning) -> None:
        """Record a warning, or raise it as an error in strict mode.

        Warnings are data, not log lines: each consumer reports them its own
        way (the Pipecat service logs them, the CLI prints them), so a user
        never sees one warning twice.
        """
        if self.strict:
            raise ImageGenError(
                f"strict mode: {warning}",
                kind=ErrorKind.INVALID_REQUEST,
                backend=self._backend.name,
            )
        self.warnings.append(warning)

    def unreported_warnings(self) -> list[GenerationWarning]:
        """The warnings added since the last call, for consumers that report as they go."""
        new, self._reported = self.warnings[self._reported :], len(self.warnings)
        return new

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> GeneratedImage:
        while True:
            event = await self._next_event()
            if isinstance(event, GeneratedImage):
                return event

    def events(self) -> AsyncIterator[GenerationEvent]:
        """Images and progress reports, in the order the backend yields them.

        Progress previews arrive inside :class:`~imagegen_core.GenerationProgress`,
        never as a :class:`GeneratedImage` of their own, so a consumer that
        saves every ``GeneratedImage`` it gets saves only results. Closing the
        returned iterator (``aclose()``) stops the generation, like
        :meth:`aclose`.
        """
        return _Events(self)

    async def _next_event(self) -> GenerationEvent:
        if self._finished:
            raise StopAsyncIteration
        try:
            if self._source is None:
                # Inside the handlers: a _generate that is a plain method
                # returning an iterator may fail when called, and its error
                # must be scrubbed and categorised like one raised later.
                self._source = self._backend._generate(self.request)
            while True:
                with tracking_cleanups(self._backend._cleanup_tracker):
                    item = await anext(self._source)
                if isinstance(item, GenerationWarning):
                    self.add_warning(item)
                    continue
                if isinstance(item, GenerationProgress):
                    item = self._scrubbed_progress(item)
                    self.progress = item
                elif isinstance(item, GeneratedImage) and not self._within_request():
                    continue
                return item
        except StopAsyncIteration:
            self._finished = True
            raise
        except ImageGenError as exc:
            failure = self._scrubbed(exc)
        except Exception as exc:
            failure = self._wrap(exc)
        # Raised here, outside the handlers, so that the backend's original
        # error (its message unscrubbed) is not attached as __context__.
        self._finished = True
        await self._close_source()
        raise detach_secrets(failure, self._backend.secret_values())

    def _within_request(self) -> bool:
        """Count an image; False once more arrive than were asked for (dropped, warned once).

        A provider's reply is untrusted: one that lists 300 outputs for one
        image must not turn into 300 downloads and 300 frames.
        """
        self._images_seen += 1
        asked = self.request.num_images
        if self._images_seen <= asked:
            return True
        self.images_dropped += 1
        if self._images_seen == asked + 1:
            noun = "image" if asked == 1 else "images"
            self.add_warning(
                GenerationWarning(
                    f"the backend returned more than the {asked} {noun} asked for; "
                    "the extra ones were dropped",
                    setting="num_images",
                )
            )
        return False

    async def collect(self) -> list[GeneratedImage]:
        """Wait for every image and return them in completion order."""
        return [image async for image in self]

    async def aclose(self) -> None:
        """Stop early, letting the backend's generator clean up."""
        self._finished = True
        await self._close_source()

    async def _close_source(self) -> None:
        source, self._source = self._source, None
        close = getattr(source, "aclose", None)
        if close is not None:
            with tracking_cleanups(self._backend._cleanup_tracker):
                await close()

    def _scrubbed(self, exc: ImageGenError) -> ImageGenError:
        """The error with secrets cut from its message and the backend's name filled in.

        A copy keeps the original's chain (what :func:`detach_secrets` lets
        through of it) and its traceback: the backend's frames are where the
        error happened, and without them a backend that leaves the name to us
        (as it may) would hand users tracebacks that end in the core.
        """
        secrets = list(self._backend.secret_values())
        message = redact(exc.message, secrets)
        if message == exc.message and exc.backend is not None:
            return exc
        copy = exc.copy_with(message=message, backend=exc.backend or self._backend.name)
        copy.__cause__, copy.__context__ = exc.__cause__, exc.__context__
        copy.__suppress_context__ = exc.__suppress_context__
        return copy.with_traceback(exc.__traceback__)

    def _scrubbed_progress(self, progress: GenerationProgress) -> GenerationProgress:
        """The report with any credential cut from its message (it may quote provider logs)."""
        if not progress.message:
            return progress
        message = redact(progress.message, list(self._backend.secret_values()))
        return progress if message == progress.message else replace(progress, message=message)

    def _wrap(self, exc: Exception) -> ImageGenError:
        kind = ErrorKind.UNKNOWN
        if isinstance(exc, TimeoutError):
            kind = ErrorKind.TIMEOUT
        elif _is_connectivity_error(exc):
            kind = ErrorKind.CONNECTIVITY
        detail = redact(str(exc), list(self._backend.secret_values()))
        message = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        # With the stray exception's traceback, which points into the backend.
        wrapped = ImageGenError(message, kind=kind, backend=self._backend.name)
        return wrapped.with_traceback(exc.__traceback__)


class _Events(AsyncIterator[GenerationEvent]):
    """The iterator :meth:`Generation.events` returns.

    A plain iterator rather than an async generator, so abandoning it leaves
    no generator for the event loop to finalise.
    """

    def __init__(self, generation: Generation) -> None:
        self._generation = generation

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> GenerationEvent:
        return await self._generation._next_event()

    async def aclose(self) -> None:
        await self._generation.aclose()


def _is_connectivity_error(exc: Exception) -> bool:
    if isinstance(exc, ConnectionError | asyncio.IncompleteReadError):
        return True
    # aiohttp's client errors: matched by module rather than imported, because
    # importing aiohttp only for this check would add its import time to every
    # backend that does not use it.
    return any(cls.__module__.startswith("aiohttp") for cls in type(exc).__mro__)
