"""The few pieces every example needs, so each example file shows only its own idea.

Not part of imagegen: processors that collect the frames of one type passing
them (the images reaching the end of a pipeline, the error frames reaching
its head) and let a script wait for them, and a runner that drives a
pipeline with a script of steps, bounded in time. The examples import it as
a sibling module (``uv run examples/NAME.py`` puts ``examples/`` on
``sys.path``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from loguru import logger
from pipecat.frames.frames import EndFrame, ErrorFrame, Frame, URLImageRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from imagegen_core.pipecat import run_pipeline_task

if TYPE_CHECKING:  # what imagegen_core.pipecat.pipeline_task returns
    from pipecat.pipeline.worker import PipelineWorker

FrameT = TypeVar("FrameT", bound=Frame)

EXAMPLE_TIMEOUT = 15.0
"""Seconds an example may take before it gives up (they take a few)."""


class FrameCollector(FrameProcessor, Generic[FrameT]):
    """Keeps the frames of one type that pass it (either way), and passes every frame on."""

    def __init__(self, frame_type: type[FrameT]) -> None:
        super().__init__()
        self.collected: list[FrameT] = []
        self._frame_type = frame_type
        self._arrived = asyncio.Condition()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, self._frame_type):
            self.collected.append(frame)
            async with self._arrived:
                self._arrived.notify_all()
        await self.push_frame(frame, direction)

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` frames in all have arrived."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.collected) >= count)


class ImageSink(FrameCollector[URLImageRawFrame]):
    """Keeps the images that reach it (where a bot has ``transport.output()``)."""

    def __init__(self) -> None:
        super().__init__(URLImageRawFrame)
        self.images = self.collected


class ErrorWatcher(FrameCollector[ErrorFrame]):
    """Keeps the error frames that reach it (they travel upstream: put it before the service)."""

    def __init__(self) -> None:
        super().__init__(ErrorFrame)
        self.errors = self.collected


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
