"""The fake backend: deterministic images, scripted latency and failures.

Read this file as the template for a real backend: a settings model, a
capabilities property, and one async generator that yields images, yields
warnings, raises :class:`ImageGenError`, and cancels its "remote" job when its
task is cancelled.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import ClassVar

from pydantic import Field, SecretStr

from imagegen_core import (
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    GenerationWarning,
    ImageBackend,
    ImageGenError,
    ImageRequest,
    OutputFormat,
    finish_cleanup,
)
from imagegen_testing.fake.images import render_test_image, size_for_aspect_ratio

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
        self._job_ids = itertools.count(1)

    @property
    def capabilities(self) -> Capabilities:
        """Everything is supported, up to ``max_images_per_call`` images."""
        return Capabilities(
            max_images_per_call=self.settings.max_images_per_call,
            aspect_ratios=None,
            supports_size=True,
            supports_seed=True,
            supports_negative_prompt=True,
            supports_quality=True,
            output_formats=frozenset(OutputFormat),
        )

    async def _generate(
        self, request: ImageRequest
    ) -> AsyncIterator[GeneratedImage | GenerationWarning]:
        settings = self.settings
        if settings.api_key.get_secret_value() != FAKE_VALID_API_KEY:
            raise ImageGenError(
                "the API key was rejected", kind=ErrorKind.AUTHENTICATION, status=401
            )
        job_id = f"fake-{next(self._job_ids)}"
        self.jobs_started += 1
        self.jobs_running += 1
        try:
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
                yield self._image(request, index, job_id)
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

    def _image(self, request: ImageRequest, index: int, job_id: str) -> GeneratedImage:
        output_format = request.output_format or OutputFormat.PNG
        size = request.size or size_for_aspect_ratio(
            request.aspect_ratio or "1:1", pixels=self.settings.pixels
        )
        seed_text = "|".join(
            [request.prompt, request.negative_prompt or "", str(request.seed), str(index)]
        )
        data = render_test_image(
            seed_text=seed_text,
            size=size,
            output_format=output_format,
            quality=request.quality if request.quality is not None else 90,
        )
        return GeneratedImage(
            data=data,
            media_type=output_format.media_type,
            size=size,
            index=index,
            metadata={"job_id": job_id, "model": self.settings.model, "seed": request.seed},
        )
