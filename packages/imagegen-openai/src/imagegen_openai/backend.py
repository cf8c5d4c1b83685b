"""The OpenAI backend: GPT Image (and DALL-E) through the Images API.

One generation is one request: ``POST /images/generations`` answers with
every image at once (base64, or links for DALL-E's ``url`` format), or, with
``stream`` on, as server-sent events: a few partial previews of each image,
then the image itself. Images are yielded as they are decoded, each with the
call's token ``usage`` in its metadata.

There is nothing to cancel remotely: the Images API has no job id and no
cancel endpoint. Cancelling the task closes the connection (at once; the
connection is closed, not drained), which is all a client can do; OpenAI may
still finish, and bill, the images it was making.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterable, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from imagegen_core import (
    AddressPolicy,
    BackendItem,
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    Generation,
    GenerationProgress,
    GenerationWarning,
    ImageBackend,
    ImageGenError,
    ImageRequest,
)
from imagegen_core.http import SessionOwner, download
from imagegen_openai._images import parse_size, to_generated_image
from imagegen_openai._models import ModelProfile, profile_for
from imagegen_openai._payload import Call, build_call
from imagegen_openai._settings import API_KEY_ENV_VAR, OpenAISettings
from imagegen_openai._transport import OpenAITransport, RequestBody
from imagegen_openai._uploads import edit_body
from imagegen_openai._wire import ImagesReply, StreamEvent, Usage

if TYPE_CHECKING:
    import aiohttp

__all__ = ["OpenAIBackend"]

T = TypeVar("T")


class OpenAIBackend(ImageBackend[OpenAISettings]):
    """Image generation with OpenAI's Images API (``gpt-image-1.5`` by default).

    Args:
        settings: :class:`OpenAISettings`, or a mapping of its fields.
        session: An aiohttp session to send requests with. It stays the
            caller's: the backend never closes it. Without one the backend
            opens its own on first use and closes it in :meth:`aclose`.

    Raises:
        ImageGenError: ``invalid_request`` when the settings do not validate.
    """

    name: ClassVar[str] = "openai"
    settings_model: ClassVar[type[BackendSettings]] = OpenAISettings

    def __init__(
        self,
        settings: OpenAISettings | Mapping[str, Any] | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(settings)
        self._sessions = SessionOwner(session, user="the OpenAI backend")

    @property
    def profile(self) -> ModelProfile:
        """What the configured model accepts."""
        return profile_for(self.settings.model)

    @property
    def capabilities(self) -> Capabilities:
        """What the configured model honours (GPT image: up to 10 images, 1:1, 3:2, 2:3)."""
        return self.profile.capabilities()

    def secret_values(self) -> Iterable[str]:
        """The key from the settings and, when that is unset, the one in ``OPENAI_API_KEY``."""
        yield from super().secret_values()
        if self.settings.api_key is None:
            from_env = self.settings.resolve_key()
            if from_env is not None:
                yield from_env.get_secret_value()

    def generate(self, request: ImageRequest, *, strict: bool = False) -> Generation:
        """Start generating; a size or option the model does not take fails here, before I/O.

        See :meth:`ImageBackend.generate`.
        """
        generation = super().generate(request, strict=strict)
        self._call_for(request, self.settings)
        return generation

    async def _aclose(self) -> None:
        await self._sessions.aclose()

    # -- generation -------------------------------------------------------------

    def _call_for(self, request: ImageRequest, settings: OpenAISettings) -> Call:
        return build_call(request, settings, profile_for(settings.model))

    async def _generate(self, request: ImageRequest) -> AsyncIterator[BackendItem]:
        settings = self.settings  # one snapshot for the whole generation
        key = settings.resolve_key()  # a SecretStr: this frame is in every error's traceback
        if key is None:
            raise ImageGenError(
                f"no OpenAI API key was given; set the api_key setting or {API_KEY_ENV_VAR}",
                kind=ErrorKind.AUTHENTICATION,
                retryable=False,
                backend=self.name,
            )
        try:
            base_url = settings.resolve_base_url()
        except ValueError as exc:
            raise ImageGenError(
                str(exc), kind=ErrorKind.INVALID_REQUEST, backend=self.name
            ) from None
        call = self._call_for(request, settings)
        for warning in call.warnings:
            yield warning
        transport = OpenAITransport(self._sessions.get(), settings, base_url, key)
        run = _Run(transport, settings, call, profile_for(settings.model))
        async with aclosing(run.images()) as images:
            async for item in images:
                yield item


class _Run:
    """One call, from the request to its last image."""

    def __init__(
        self,
        transport: OpenAITransport,
        settings: OpenAISettings,
        call: Call,
        profile: ModelProfile,
    ) -> None:
        self.transport = transport
        self.settings = settings
        self.call = call
        self.profile = profile
        verb = "editing" if call.is_edit else "generating"
        self.action = f"{verb} {call.expected} image(s) with {settings.model}"
        self.deadline = 0.0
        self.yielded = 0

    async def images(self) -> AsyncGenerator[BackendItem, None]:
        self.deadline = asyncio.get_running_loop().time() + self.settings.timeout
        if self.call.is_edit:
            body = await self._step(
                edit_body(self.call, self.transport.session, self.profile, self.settings)
            )
        else:
            body = RequestBody.json(self.call.fields)
        if self.call.stream:
            source: AsyncGenerator[BackendItem, None] = self._streamed(body)
        else:
            source = self._replied(body)
        async with aclosing(source) as items:
            async for item in items:
                yield item
        if self.yielded == 0:
            raise ImageGenError(
                f"OpenAI's reply while {self.action} carried no images",
                kind=ErrorKind.SERVER,
                retryable=False,
                backend="openai",
            )
        if self.yielded < self.call.expected:
            yield GenerationWarning(
                f"OpenAI returned {self.yielded} of the {self.call.expected} images asked for"
            )

    async def _step(self, step: Awaitable[T]) -> T:
        """Await one network step, cut short at the generation's deadline.

        Only steps are bounded, never the yields between them: a deadline
        spanning a yield would fire inside the consumer's code.
        """
        timeout = asyncio.timeout_at(self.deadline)
        try:
            async with timeout:
                return await step
        except TimeoutError:
            if not timeout.expired():
                raise
            raise ImageGenError(
                f"{self.action} did not finish within the {self.settings.timeout:g} s timeout",
                kind=ErrorKind.TIMEOUT,
                backend="openai",
            ) from None

    async def _replied(self, body: RequestBody) -> AsyncGenerator[BackendItem, None]:
        reply = await self._step(self.transport.post(self.call.path, body, action=self.action))
        async with aclosing(self._from_reply(reply)) as items:
            async for item in items:
                yield item

    async def _from_reply(self, reply: ImagesReply) -> AsyncGenerator[BackendItem, None]:
        entries = reply.data
        if len(entries) > self.call.expected:
            yield GenerationWarning(
                f"OpenAI returned {len(entries)} images for {self.call.expected} asked; "
                "the extra ones were dropped"
            )
            entries = entries[: self.call.expected]
        metadata = self._metadata(reply.usage, reply.size, reply.quality, reply.background)
        for entry in entries:
            image = to_generated_image(
                b64_json=entry.b64_json,
                url=entry.url,
                index=self.yielded,
                output_format=self.call.output_format,
                size=parse_size(reply.size),
                metadata={**metadata, "revised_prompt": entry.revised_prompt},
            )
            yield await self._fetched(image)
            self.yielded += 1

    async def _streamed(self, body: RequestBody) -> AsyncGenerator[BackendItem, None]:
        events = self.transport.stream(self.call.path, body, action=self.action)
        async with aclosing(events):
            while self.yielded < self.call.expected:
                try:
                    event = await self._step(anext(events))
                except StopAsyncIteration:
                    return
                if isinstance(event, ImagesReply):
                    async with aclosing(self._from_reply(event)) as items:
                        async for item in items:
                            yield item
                    return
                if event.is_partial:
                    yield self._preview(event)
                elif event.is_completed:
                    yield self._completed(event)
                    self.yielded += 1

    def _preview(self, event: StreamEvent) -> GenerationProgress | GenerationWarning:
        """A partial image as a progress report (a preview is never a result)."""
        step = event.partial_image_index or 0
        try:
            preview = to_generated_image(
                b64_json=event.b64_json,
                url=None,
                index=self.yielded,
                output_format=self.call.output_format,
                size=parse_size(event.size),
                metadata={"preview": True, "partial_image_index": step},
            )
        except ImageGenError as exc:
            # A broken preview costs the preview, not the images still coming.
            return GenerationWarning(f"a partial preview was skipped: {exc.message}")
        of_image = f" of image {self.yielded + 1}/{self.call.expected}"
        return GenerationProgress(
            message=f"preview {step + 1}/{self.settings.partial_images}"
            + (of_image if self.call.expected > 1 else ""),
            preview=preview,
        )

    def _completed(self, event: StreamEvent) -> GeneratedImage:
        return to_generated_image(
            b64_json=event.b64_json,
            url=None,
            index=self.yielded,
            output_format=self.call.output_format,
            size=parse_size(event.size),
            metadata=self._metadata(event.usage, event.size, event.quality, event.background),
        )

    async def _fetched(self, image: GeneratedImage) -> GeneratedImage:
        if not self.settings.download_outputs or image.url is None:
            return image
        fetched = await self._step(
            download(
                self.transport.session,
                image.url,
                max_bytes=self.settings.max_download_bytes,
                attempts=self.settings.max_attempts,
                addresses=AddressPolicy.for_settings(self.settings),
            )
        )
        return GeneratedImage(
            data=fetched.data,
            media_type=fetched.media_type or image.media_type,
            size=image.size,
            index=image.index,
            metadata=image.metadata,
        )

    def _metadata(
        self,
        usage: Usage | None,
        size: str | None,
        quality: str | None,
        background: str | None,
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "model": self.settings.model,
            "request_id": self.transport.request_id,
            "usage": usage.as_metadata() if usage is not None else None,
        }
        for name, value in (("size", size), ("quality", quality), ("background", background)):
            if value is not None:
                metadata[name] = value
        return metadata
