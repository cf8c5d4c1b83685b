"""The few pieces every example needs, so each example file shows only its own idea.

Not part of imagegen: a processor that collects the images reaching the end
of a pipeline, one that collects the error frames reaching its head, and a
runner that drives a pipeline with a script of steps, bounded in time. The
examples import it as a sibling module (``uv run examples/NAME.py`` puts
``examples/`` on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from loguru import logger
from pipecat.frames.frames import EndFrame, ErrorFrame, Frame, URLImageRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from imagegen_core.pipecat import run_pipeline_task

if TYPE_CHECKING:  # what imagegen_core.pipecat.pipeline_task returns
    from pipecat.pipeline.worker import PipelineWorker

EXAMPLE_TIMEOUT = 15.0
"""Seconds an example may take before it gives up (they take a few)."""


class ImageSink(FrameProcessor):
    """Keeps the images that reach it (where a bot has ``transport.output()``)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[URLImageRawFrame] = []
        self._arrived = asyncio.Condition()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, URLImageRawFrame):
            self.images.append(frame)
            async with self._arrived:
                self._arrived.notify_all()
        await self.push_frame(frame, direction)

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` images in all have arrived."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.images) >= count)


class ErrorWatcher(FrameProcessor):
    """Keeps the error frames that reach the head of the pipeline (they travel upstream)."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[ErrorFrame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ErrorFrame):
            self.errors.append(frame)
        await self.push_frame(frame, direction)


async def run_script(task: PipelineWorker, script: Callable[[], Awaitable[None]]) -> None:
    """Run the pipeline ``task`` while ``script`` drives it, then end the pipeline.

    ``script`` queues frames and waits for what it expects; when it returns,
    an ``EndFrame`` lets the pipeline finish. Either taking longer than
    :data:`EXAMPLE_TIMEOUT` is an error.
    """

    async def drive() -> None:
        await script()
        await task.queue_frame(EndFrame())

    async with asyncio.timeout(EXAMPLE_TIMEOUT):
        await asyncio.gather(run_pipeline_task(task), drive())


def quiet_logs() -> None:
    """Log warnings and errors only, so that the example's own lines stand out."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def check(condition: bool, failure: str) -> None:
    """End the example with status 1 and ``failure`` when ``condition`` does not hold."""
    if not condition:
        print(f"FAILED: {failure}", file=sys.stderr)
        raise SystemExit(1)
