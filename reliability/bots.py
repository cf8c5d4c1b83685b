"""A bot: one Pipecat pipeline around an image service, driven one prompt at a time.

The suite measures what a voice bot sees: a prompt goes in as a
``TextFrame``; exactly one outcome must come back, an image (downstream) or a
categorized error frame (upstream). Taps on both sides of the service count
outcomes per prompt: everything that arrives after a prompt is sent and
before the next one belongs to it, so a late or duplicated outcome shows up
as a prompt with more than one.

Also here: counting what a run can leak (asyncio tasks, open sockets).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pipecat.frames.frames import (
    DataFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    TextFrame,
    URLImageRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from imagegen_core.pipecat import pipeline_task, run_pipeline_task
from reliability import evidence

__all__ = ["Bot", "Outcome", "open_sockets", "running_tasks", "shares"]

ImageOrError = URLImageRawFrame | ErrorFrame

STOP_TIMEOUT = 30.0
"""Seconds a pipeline may take to end after its ``EndFrame``."""


@dataclass
class Outcome:
    """What one prompt produced."""

    prompt: str
    sent_at: float
    images: list[URLImageRawFrame] = field(default_factory=list)
    errors: list[ErrorFrame] = field(default_factory=list)
    first_at: float | None = None
    """When its first outcome arrived (``time.monotonic``)."""
    last_at: float | None = None
    """When its latest outcome arrived."""
    failed_requests: int = 0
    """HTTP attempts made for it that failed (an error status or no reply), retries included."""

    @property
    def count(self) -> int:
        """How many outcomes (images and error frames) arrived for it."""
        return len(self.images) + len(self.errors)

    @property
    def latency(self) -> float | None:
        """Seconds from sending the prompt to its first outcome."""
        return None if self.first_at is None else self.first_at - self.sent_at


class _Fence(DataFrame):
    """A frame that reaches the end of the pipeline only after the frames queued before it.

    The service handles a prompt before it takes the next frame, so a fence
    queued after a prompt arrives once that prompt is finished with.
    """


class _Tap(FrameProcessor):
    """Passes every frame on; hands images going down and errors going up to the bot."""

    def __init__(self, bot: Bot, *, tail: bool) -> None:
        super().__init__()
        self._bot = bot
        self._tail = tail

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if self._tail and isinstance(frame, InterruptionFrame):
            self._bot.interruption_passed = time.monotonic()
        if self._tail and isinstance(frame, _Fence):
            self._bot.fenced(frame)
            return
        wanted = URLImageRawFrame if direction is FrameDirection.DOWNSTREAM else ErrorFrame
        if isinstance(frame, (URLImageRawFrame, ErrorFrame)) and isinstance(frame, wanted):
            self._bot.arrived(frame)
        await self.push_frame(frame, direction)


class Bot:
    """A running pipeline ``[tap, service, tap]``; use it as an async context manager."""

    def __init__(self, service: Any) -> None:
        self.service = service
        evidence.keep_repr(service)
        backend = getattr(service, "backend", None)
        if backend is not None:
            evidence.keep_repr(backend)
            evidence.keep_repr(getattr(backend, "settings", None))
        self.outcomes: list[Outcome] = []
        self.stray: list[Frame] = []
        """Outcomes that arrived before any prompt was sent."""
        self.interruption_passed: float | None = None
        """When the latest interruption had passed the service (reached the tail)."""
        self._changed = asyncio.Event()
        self._fences: dict[int, asyncio.Event] = {}
        pipeline = Pipeline([_Tap(self, tail=False), service, _Tap(self, tail=True)])
        self._task = pipeline_task(pipeline, idle_timeout_secs=None)
        self._runner: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Bot:
        self._runner = asyncio.create_task(run_pipeline_task(self._task))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        if not self._runner.done():
            await self._task.queue_frame(EndFrame())
        async with asyncio.timeout(STOP_TIMEOUT):
            await self._runner

    def arrived(self, frame: ImageOrError) -> None:
        """Count ``frame`` as an outcome of the latest prompt."""
        if not self.outcomes:
            self.stray.append(frame)
            evidence.keep(frame)
            return
        outcome = self.outcomes[-1]
        outcome.last_at = time.monotonic()
        if outcome.first_at is None:
            outcome.first_at = outcome.last_at
        if isinstance(frame, URLImageRawFrame):
            outcome.images.append(frame)
        else:
            outcome.errors.append(frame)
            evidence.keep(frame)
        self._changed.set()

    async def prompt(self, text: str) -> Outcome:
        """Send ``text`` as a prompt; return its outcome record at once (it fills in later)."""
        return await self.track(TextFrame(text), text)

    async def track(self, frame: Frame, label: str) -> Outcome:
        """Send ``frame``; what arrives until the next tracked frame is its outcome."""
        outcome = Outcome(label, time.monotonic())
        self.outcomes.append(outcome)
        await self._task.queue_frame(frame)
        return outcome

    async def ask(self, text: str, *, within: float) -> Outcome:
        """Send ``text`` and wait up to ``within`` seconds for its first outcome."""
        outcome = await self.prompt(text)
        await self.wait_for(outcome, within=within)
        return outcome

    async def wait_for(self, outcome: Outcome, *, within: float) -> bool:
        """Wait until ``outcome`` has one; ``False`` when ``within`` seconds pass first."""
        try:
            async with asyncio.timeout(within):
                while outcome.count == 0:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def fenced(self, frame: Frame) -> None:
        """A fence reached the tail: everything queued before it is finished with."""
        event = self._fences.pop(id(frame), None)
        if event is not None:
            event.set()

    async def settle(self, *, within: float) -> bool:
        """Wait until the service has finished with every frame sent so far."""
        fence = _Fence()
        arrived = self._fences[id(fence)] = asyncio.Event()
        await self._task.queue_frame(fence)
        try:
            async with asyncio.timeout(within):
                await arrived.wait()
        except TimeoutError:
            return False
        return True

    async def hang_up(self) -> None:
        """What the user leaving does: the pipeline is cancelled (a ``CancelFrame``)."""
        await self._task.cancel()

    async def interrupt(self) -> None:
        """What the user speaking does: an ``InterruptionFrame`` through the pipeline."""
        await self._task.queue_frame(InterruptionFrame())


def shares(total: int, parts: int) -> list[int]:
    """``total`` split over ``parts`` as evenly as whole numbers allow (work per pipeline)."""
    return [total // parts + (index < total % parts) for index in range(parts)]


def running_tasks() -> set[asyncio.Task[Any]]:
    """The asyncio tasks of the running loop that have not finished."""
    return {task for task in asyncio.all_tasks() if not task.done()}


def open_sockets() -> int | None:
    """Sockets this process holds open (``None`` where ``/proc`` cannot say)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return None
    count = 0
    for entry in fds.iterdir():
        try:
            count += os.readlink(entry).startswith("socket:")
        except OSError:
            continue  # closed while listing (the listing's own descriptor, say)
    return count
