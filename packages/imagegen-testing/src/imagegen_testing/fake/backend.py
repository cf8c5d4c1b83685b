"""The fake backend: deterministic images, scripted latency, failures and progress.

Read this file as the template for a real backend: a settings model, a
capabilities property, and one async generator that yields images, yields
warnings and progress, raises :class:`ImageGenError`, and cancels its
"remote" job when its task is cancelled. Given input images it edits: the
result is derived from the edit image (painted over where a mask is white),
so a test can tell an edit from a fresh picture.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import ClassVar

from pydantic import Field, SecretStr

from imagegen_core import (
    BackendItem,
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    GenerationProgress,
    GenerationWarning,
    ImageBackend,
    ImageGenError,
    ImageRequest,
    ImageRole,
    ImageSize,
    OutputFormat,
    finish_cleanup,
)
from imagegen_testing.fake.images import (
    edit_test_image,
    input_fingerprint,
    render_test_image,
    size_for_aspect_ratio,
)

__all__ = ["FAKE_VALID_API_KEY", "FakeBackend", "FakeSettings"]

FAKE_VALID_API_KEY = "fake-valid-key"
"""The only key the fake accepts; any other ``api_key`` fails authentication."""


class FakeSettings(BackendSettings):
    """Settings of the fake backend; every knob a test may want to turn."""

    api_key: SecretStr = Field(
        default=SecretStr(FAKE_VALID_API_KEY),
        description="Credential; any other value than the valid fake key fails authentication.",
    )
    model: str = Field(default="fake/painter", description="Model name, echoed into metadata.")
    pixels: int = Field(default=64 * 64, ge=256, le=4096 * 4096, description="Pixels per image.")
    max_images_per_call: int = Field(default=4, ge=1, le=16)
    latency: float = Field(default=0.0, ge=0, description="Seconds before the first image.")
    latency_per_image: float = Field(default=0.0, ge=0, description="Seconds between images.")
    cancel_latency: float = Field(default=0.0, ge=0, description="Seconds the remote cancel takes.")
    fail_with: ErrorKind | None = Field(
        default=None, description="Fail every generation with this kind."
    )
    fail_after_images: int = Field(default=0, ge=0, description="Images yielded before failing.")
    drop_images: int = Field(
        default=0, ge=0, description="Return this many fewer images than asked."
    )
    max_input_images: int = Field(
        default=4, ge=0, le=16, description="Input images accepted; 0 for text to image only."
    )
    supports_mask: bool = Field(default=True, description="Masks are accepted (needs inputs).")
    input_roles: frozenset[ImageRole] = Field(
        default=frozenset(ImageRole), description="Roles of input images accepted."
    )
    queue_reports: int = Field(
        default=0, ge=0, le=100, description="Queue positions reported before work starts."
    )
    progress_steps: int = Field(
        default=0, ge=0, le=100, description="Progress reports per image, with fractions."
    )
    progress_previews: bool = Field(
        default=False, description="Attach a low-resolution preview to each progress report."
    )
    progress_latency: float = Field(default=0.0, ge=0, description="Seconds between reports.")


class FakeBackend(ImageBackend[FakeSettings]):
    """An in-process backend that draws deterministic pictures.

    Counters (:attr:`jobs_started`, :attr:`jobs_cancelled`, :attr:`jobs_running`)
    play the part of the provider's dashboard: tests assert that interrupted
    work was really cancelled "remotely".
    """

    name: ClassVar[str] = "fake"
    settings_model: ClassVar[type[BackendSettings]] = FakeSettings

    def __init__(self, settings: FakeSettings | dict[str, object] | None = None) -> None:
        super().__init__(settings)
        self.jobs_started = 0
        self.jobs_cancelled = 0
        self.jobs_running = 0
        self.requests: list[ImageRequest] = []
        """Every request a generation started with, in order: the provider's view."""
        self._job_ids = itertools.count(1)

    @property
    def capabilities(self) -> Capabilities:
        """Everything is supported, up to the images and inputs the settings allow."""
        settings = self.settings
        return Capabilities(
            max_input_images=settings.max_input_images,
            supports_mask=settings.supports_mask and settings.max_input_images > 0,
            input_roles=settings.input_roles,
            max_images_per_call=self.settings.max_images_per_call,
            aspect_ratios=None,
            supports_size=True,
            supports_seed=True,
            supports_negative_prompt=True,
            supports_quality=True,
            output_formats=frozenset(OutputFormat),
        )

    async def _generate(self, request: ImageRequest) -> AsyncIterator[BackendItem]:
        settings = self.settings
        if settings.api_key.get_secret_value() != FAKE_VALID_API_KEY:
            raise ImageGenError(
                "the API key was rejected", kind=ErrorKind.AUTHENTICATION, status=401
            )
        job_id = f"fake-{next(self._job_ids)}"
        self.requests.append(request)
        self.jobs_started += 1
        self.jobs_running += 1
        try:
            for ahead in reversed(range(settings.queue_reports)):
                yield GenerationProgress(queue_position=ahead, message="queued")
                await asyncio.sleep(settings.progress_latency)
            await asyncio.sleep(settings.latency)
            count = max(0, request.num_images - settings.drop_images)
            if count < request.num_images:
                if count == 0:
                    raise ImageGenError(
                        "the fake returned no images",
                        kind=ErrorKind.CONTENT_POLICY,
                        retryable=False,
                    )
                yield GenerationWarning(
                    f"{request.num_images - count} of {request.num_images} images dropped"
                )
            for index in range(count):
                if settings.fail_with is not None and index >= settings.fail_after_images:
                    raise ImageGenError(
                        f"scripted {settings.fail_with.value} failure", kind=settings.fail_with
                    )
                if index:
                    await asyncio.sleep(settings.latency_per_image)
                image = self._image(request, index, job_id)
                for step in range(1, settings.progress_steps + 1):
                    yield self._progress(request, image, count, step)
                    await asyncio.sleep(settings.progress_latency)
                yield image
            if settings.fail_with is not None and count <= settings.fail_after_images:
                raise ImageGenError(
                    f"scripted {settings.fail_with.value} failure", kind=settings.fail_with
                )
        except asyncio.CancelledError:
            await finish_cleanup(self._cancel_job(job_id), what=f"cancelling {job_id}")
            raise
        finally:
            self.jobs_running -= 1

    async def _cancel_job(self, job_id: str) -> None:
        """The stand-in for a provider's cancel endpoint."""
        await asyncio.sleep(self.settings.cancel_latency)
        self.jobs_cancelled += 1

    def _progress(
        self, request: ImageRequest, image: GeneratedImage, count: int, step: int
    ) -> GenerationProgress:
        """Report ``step`` of image ``image.index``; the fraction covers the whole call."""
        steps = self.settings.progress_steps
        fraction = (image.index * steps + step) / (count * steps)
        preview = None
        if self.settings.progress_previews:
            size = image.size or ImageSize(64, 64)
            small = ImageSize(max(1, size.width // 4), max(1, size.height // 4))
            preview = GeneratedImage(
                data=render_test_image(seed_text=f"{request.prompt}|preview|{step}", size=small),
                media_type=OutputFormat.PNG.media_type,
                size=small,
                index=image.index,
                metadata={"preview": True, "step": step},
            )
        return GenerationProgress(
            fraction=fraction,
            message=f"image {image.index + 1}/{count}, step {step}/{steps}",
            preview=preview,
        )

    def _image(self, request: ImageRequest, index: int, job_id: str) -> GeneratedImage:
        output_format = request.output_format or OutputFormat.PNG
        target = request.edit_image
        size = request.size or (
            target.size
            if target is not None and target.size is not None
            else size_for_aspect_ratio(request.aspect_ratio or "1:1", pixels=self.settings.pixels)
        )
        inputs = [input_fingerprint(image) for image in request.images]
        seed_text = "|".join(
            [request.prompt, request.negative_prompt or "", str(request.seed), str(index), *inputs]
        )
        quality = request.quality if request.quality is not None else 90
        if target is not None and target.data is not None:
            mask = request.mask.data if request.mask is not None else None
            data = edit_test_image(
                target.data,
                seed_text=seed_text,
                size=size,
                mask=mask,
                output_format=output_format,
                quality=quality,
            )
        else:
            data = render_test_image(
                seed_text=seed_text, size=size, output_format=output_format, quality=quality
            )
        return GeneratedImage(
            data=data,
            media_type=output_format.media_type,
            size=size,
            index=index,
            metadata={
                "job_id": job_id,
                "model": self.settings.model,
                "seed": request.seed,
                "inputs": inputs,
                "masked": request.mask is not None,
            },
        )
