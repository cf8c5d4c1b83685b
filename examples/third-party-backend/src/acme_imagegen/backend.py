"""The Acme backend: one job on Acme's predictions API per request.

Acme's API is shaped like Replicate's (so imagegen-testing's Replicate
emulator stands in for it while developing and recording): ``POST`` a job,
poll its ``urls.get`` until it ends, read the image links (or inline
``data:`` URLs) from ``output``, and ``POST`` its ``urls.cancel`` if the
caller gives up. For a provider of your own, replace what this module says
about the wire (the models, :meth:`AcmeBackend._create`, the status names);
the shape around it (settings, capabilities, errors, cancellation, session
ownership) is what every imagegen backend needs.

Everything here comes from imagegen's public surface: ``imagegen_core`` (the
protocol) and ``imagegen_core.http`` (capped reads, ``Retry-After``, the
session owner). No Pipecat: the core's Pipecat service drives this backend.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, Field, SecretStr, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from imagegen_core import (
    BackendItem,
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    ImageBackend,
    ImageGenError,
    ImageRequest,
    OutputFormat,
    decode_data_url,
    finish_cleanup,
)
from imagegen_core.http import SessionOwner, read_capped, retry_after_seconds

__all__ = ["AcmeBackend", "AcmeSettings"]

_FORMATS = {OutputFormat.PNG: "png", OutputFormat.WEBP: "webp", OutputFormat.JPEG: "jpg"}
_RUNNING = frozenset({"starting", "processing"})


class AcmeSettings(BackendSettings):
    """How to reach Acme and what to ask it for."""

    # SecretStr keeps the key out of reprs, logs, errors and cassettes.
    api_key: SecretStr = Field(default=SecretStr(""), description="Acme API key.")
    base_url: str = Field(default="https://api.replicate.com/v1", description="API root.")
    model: str = Field(default="black-forest-labs/flux-schnell", description="Model to run.")
    megapixels: str = Field(default="1", description="Output size class: '1' or '0.25'.")
    poll_interval: float = Field(default=0.25, gt=0, description="Seconds between polls.")
    max_polls: int = Field(default=240, ge=1, description="Polls before giving up (timeout).")
    max_attempts: int = Field(default=3, ge=1, description="Tries per call on throttling or 5xx.")
    max_reply_bytes: int = Field(default=1 << 20, ge=1024, description="Largest JSON reply read.")


class _Links(BaseModel):
    get: str
    cancel: str


class _Job(BaseModel):
    """The part of Acme's job object this backend reads; a reply is untrusted input."""

    id: str
    status: str
    urls: _Links
    output: list[str] | None = None
    error: str | None = None


class AcmeBackend(ImageBackend[AcmeSettings]):
    """Acme's text-to-image models.

    Args:
        settings: :class:`AcmeSettings` or a mapping of its fields.
        aiohttp_session: A session to use (yours, never closed here); without
            one the backend makes its own on first use and closes it in
            :meth:`aclose`.
    """

    name: ClassVar[str] = "acme"  # must equal the entry point's name
    settings_model: ClassVar[type[BackendSettings]] = AcmeSettings

    def __init__(
        self,
        settings: AcmeSettings | Mapping[str, Any] | None = None,
        *,
        aiohttp_session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(settings)  # validates; no I/O in a constructor
        self._sessions = SessionOwner(aiohttp_session, user="the Acme backend")

    @property
    def capabilities(self) -> Capabilities:
        """What the model can do; the core checks every request against it first."""
        return Capabilities(
            max_images_per_call=4,
            aspect_ratios=frozenset({"1:1", "16:9", "9:16"}),
            supports_seed=True,
            output_formats=frozenset(_FORMATS),
        )

    async def _generate(self, request: ImageRequest) -> AsyncIterator[BackendItem]:
        job = await self._create(request)
        try:
            for _ in range(self.settings.max_polls):
                if job.status not in _RUNNING:
                    break
                await asyncio.sleep(self.settings.poll_interval)
                job = await self._job("GET", job.urls.get)
            else:
                raise ImageGenError(
                    f"job {job.id} still {job.status} after {self.settings.max_polls} polls",
                    kind=ErrorKind.TIMEOUT,
                )
        except BaseException:
            # Cancelled, timed out or failed while the job runs remotely: stop
            # paying for it, bounded in time, and let the exception go on.
            if job.status in _RUNNING:
                await finish_cleanup(self._job("POST", job.urls.cancel))
            raise
        if job.status != "succeeded":
            kind = ErrorKind.CANCELED if job.status == "canceled" else ErrorKind.SERVER
            raise ImageGenError(f"job {job.id} {job.status}: {job.error}", kind=kind)
        # Never more images than were asked for, whatever the reply says.
        for index, output in enumerate((job.output or [])[: request.num_images]):
            yield _image(output, index, job.id)

    async def _aclose(self) -> None:
        await self._sessions.aclose()

    async def _create(self, request: ImageRequest) -> _Job:
        inputs: dict[str, Any] = {
            "prompt": request.prompt,
            "num_outputs": request.num_images,
            "megapixels": self.settings.megapixels,
        }
        if request.aspect_ratio is not None:
            inputs["aspect_ratio"] = request.aspect_ratio
        if request.seed is not None:
            inputs["seed"] = request.seed
        if request.output_format is not None:
            inputs["output_format"] = _FORMATS[request.output_format]
        url = f"{self.settings.base_url.rstrip('/')}/models/{self.settings.model}/predictions"
        # A create is retried only when throttled (nothing started); a 5xx may
        # have started a job, and retrying would pay for two.
        return await self._job("POST", url, body={"input": inputs}, retry_server_errors=False)

    async def _job(
        self,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None = None,
        retry_server_errors: bool = True,
    ) -> _Job:
        """One API call, retried with back-off on throttling (and 5xx where safe)."""
        self._check_origin(url)

        def worth_retrying(exc: BaseException) -> bool:
            if not isinstance(exc, ImageGenError):
                return False
            return exc.kind is ErrorKind.RATE_LIMIT or (
                retry_server_errors and exc.kind is ErrorKind.SERVER
            )

        def wait(state: Any) -> float:
            error = state.outcome.exception()
            if isinstance(error, ImageGenError) and error.retry_after is not None:
                return min(error.retry_after, 10.0)
            backoff: float = wait_exponential(multiplier=0.25, max=4)(state)
            return backoff

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            retry=retry_if_exception(worth_retrying),
            wait=wait,
            reraise=True,
        )
        reply: Any = None
        async for attempt in retrying:
            with attempt:
                reply = await self._request(method, url, body)
        try:
            return _Job.model_validate(reply)
        except ValidationError as exc:
            raise ImageGenError(
                f"Acme sent a job we cannot read ({exc.error_count()} problem(s))",
                kind=ErrorKind.SERVER,
            ) from None

    async def _request(self, method: str, url: str, body: dict[str, Any] | None) -> Any:
        key = self.settings.api_key.get_secret_value()
        if not key:
            raise ImageGenError("no Acme API key: set api_key", kind=ErrorKind.AUTHENTICATION)
        headers = {"Authorization": f"Bearer {key}"}
        session = self._sessions.get()
        try:
            async with session.request(method, url, json=body, headers=headers) as reply:
                text = await read_capped(reply, self.settings.max_reply_bytes, _too_large)
                _raise_for_status(reply.status, reply.headers.get("Retry-After"))
        except aiohttp.ClientError as exc:
            raise ImageGenError(
                f"cannot reach Acme: {type(exc).__name__}", kind=ErrorKind.CONNECTIVITY
            ) from None
        try:
            return json.loads(text)
        except ValueError:
            raise ImageGenError(
                "Acme sent a reply that is not JSON", kind=ErrorKind.SERVER
            ) from None

    def _check_origin(self, url: str) -> None:
        """Send the key only to the API's own origin, whatever a reply's links say."""
        api = urlsplit(self.settings.base_url)
        target = urlsplit(url)
        if (target.scheme, target.netloc) != (api.scheme, api.netloc):
            raise ImageGenError(
                "Acme's reply links outside its API; not following it", kind=ErrorKind.SERVER
            )


def _raise_for_status(status: int, retry_after: str | None) -> None:
    if status < 400:
        return
    if status == 401:
        raise ImageGenError("Acme rejected the API key", kind=ErrorKind.AUTHENTICATION, status=401)
    if status == 403:
        raise ImageGenError("Acme refused access", kind=ErrorKind.AUTHORIZATION, status=403)
    if status == 429:
        raise ImageGenError(
            "Acme is throttling requests",
            kind=ErrorKind.RATE_LIMIT,
            retry_after=retry_after_seconds(retry_after),
            status=429,
        )
    kind = ErrorKind.SERVER if status >= 500 else ErrorKind.INVALID_REQUEST
    raise ImageGenError(f"Acme answered HTTP {status}", kind=kind, status=status)


def _too_large(how: str) -> ImageGenError:
    return ImageGenError(f"Acme's reply is too large ({how})", kind=ErrorKind.SERVER)


def _image(output: str, index: int, job_id: str) -> GeneratedImage:
    """An output as an image: inline ``data:`` bytes, or a link the caller downloads."""
    metadata = {"job_id": job_id}
    if output.startswith("data:"):
        try:
            data, media_type = decode_data_url(output)
        except ValueError as exc:
            message = f"Acme sent a broken inline image: {exc}"
            raise ImageGenError(message, kind=ErrorKind.SERVER) from None
        return GeneratedImage(data=data, media_type=media_type, index=index, metadata=metadata)
    # A link: the caller downloads it through imagegen_core.http.download,
    # which caps the size and refuses private addresses.
    return GeneratedImage(url=output, index=index, metadata=metadata)
