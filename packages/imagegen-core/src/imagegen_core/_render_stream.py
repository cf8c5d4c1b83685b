"""The engine behind the Pipecat service: one generation, rendered as images arrive.

A backend yields images one by one; each must then be fetched (when it is a
link) and decoded, which takes time of its own. :class:`RenderStream` runs the
generation in a task of its own and starts rendering every image the moment
the backend hands it over, so downloads overlap each other and the rest of the
generation. Results come out in the order they finish.

Running the generation in its own task is also what makes cancellation
dependable: whoever holds the stream can cancel that task (on a Pipecat
interruption, say) whatever task it is called from, and the backend then sees
the cancellation inside its own ``await`` and cancels its remote work.
Depending on the Pipecat release and processor mode, the task consuming the
stream may or may not be cancelled by Pipecat itself; the stream does not rely
on it.

Progress is opt-in: asked for, the stream iterates the generation's
:meth:`~imagegen_core.Generation.events` and yields a :class:`Progressed`
for each report, its preview rendered first when a preview renderer is given.
Previews are rendered in order, before the next event is read, so a preview
never arrives after the image it previews. Not asked for, the stream reads
images only, exactly as it did before progress existed.

This module does not import Pipecat, so it is tested on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Generic, Self, TypeVar

from imagegen_core._backend import Generation
from imagegen_core._cancellation import DEFAULT_CLEANUP_TIMEOUT
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._progress import GenerationProgress
from imagegen_core._results import GeneratedImage

__all__ = ["Arrived", "Progressed", "RenderStream", "Rendered"]

_log = logging.getLogger("imagegen")

T = TypeVar("T")
M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Arrived:
    """The backend handed over an image; rendering it has begun.

    Args:
        image: The image as the backend returned it.
    """

    image: GeneratedImage


@dataclass(frozen=True, slots=True)
class Rendered(Generic[T]):
    """An image finished rendering.

    Args:
        image: The image as the backend returned it.
        result: What the render function made of it.
    """

    image: GeneratedImage
    result: T


@dataclass(frozen=True, slots=True)
class Progressed(Generic[T]):
    """The backend reported progress.

    Args:
        progress: The report, as the backend made it (secrets scrubbed).
        preview: The report's preview, rendered, when previews were asked for
            and it rendered; None otherwise.
    """

    progress: GenerationProgress
    preview: T | None = None


class _End:
    """Queue marker: the producer has finished, one way or another."""


_END: Final = _End()


class _Mailbox(Generic[M]):
    """A queue with one reader, none of whose puts ever wait.

    What ``asyncio.Queue`` gives this stream (ordered hand-over, a reader
    woken by a put) without what it does not use (bounds, ``join``, several
    readers), at about a third of its calls per item: a stream hands over
    three items per image (benchmarks/profile_loop.py).
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[M] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: M) -> None:
        """Add ``item``, waking the reader if it waits."""
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> M:
        """The oldest item, waiting for one if there is none."""
        if self._waiter is not None:
            raise RuntimeError("the render stream is already being read by another task")
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class RenderStream(Generic[T]):
    """Iterate one generation's images, rendered, in completion order.

    Iterating yields an :class:`Arrived` for each image as the backend hands
    it over, then a :class:`Rendered` once ``render`` is done with it. Every
    image that can be delivered is; the first failure (of the generation or
    of any render) is raised once the rest has settled. After :meth:`cancel`
    the iteration just ends, without an error and without what was rendered
    but not yet taken.

    Args:
        generation: The running generation, not yet iterated.
        render: Turns one image into the result (fetch and decode, say).
        progress: Also yield a :class:`Progressed` per progress report.
        render_preview: Turns a report's preview into a result; implies
            ``progress``. A preview that fails to render is logged and its
            report yielded without it: a preview is decoration, and losing one
            must not cost the user the picture.
        cancel_timeout: How long :meth:`cancel` waits for the backend to stop
            its remote work; the backend bounds its own clean-up below this.
    """

    def __init__(
        self,
        generation: Generation,
        render: Callable[[GeneratedImage], Awaitable[T]],
        *,
        progress: bool = False,
        render_preview: Callable[[GeneratedImage], Awaitable[T]] | None = None,
        cancel_timeout: float = DEFAULT_CLEANUP_TIMEOUT + 1.0,
    ) -> None:
        self._generation = generation
        self._render = render
        self._progress = progress or render_preview is not None
        self._render_preview = render_preview
        self._cancel_timeout = cancel_timeout
        self._queue: _Mailbox[Arrived | Rendered[T] | Progressed[T] | _End] = _Mailbox()
        self._task: asyncio.Task[None] | None = None
        self._failure: ImageGenError | None = None
        self._failure_in_render = False
        self._cancel_requested = False
        self._ended = False

    @property
    def cancel_requested(self) -> bool:
        """Whether :meth:`cancel` was called before the stream had been read to its end."""
        return self._cancel_requested

    @property
    def failed_in_render(self) -> bool:
        """Whether the failure raised came from rendering one image, not from the generation.

        Then the provider did its work and one output of its reply could not
        be used (a link refused or gone, a file too large or undecodable).
        """
        return self._failure is not None and self._failure_in_render

    @property
    def done(self) -> bool:
        """Whether the generation and all renders have finished (or never started)."""
        return self._task is None or self._task.done()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Arrived | Rendered[T] | Progressed[T]:
        if self._ended:
            raise StopAsyncIteration
        if self._task is None and not self._cancel_requested:
            self._task = asyncio.create_task(self._produce(), name="imagegen-generation")
        item = await self._queue.get() if self._task is not None else _END
        if self._cancel_requested:
            # Whatever was rendered before the cancel stays undelivered: after
            # an interruption, not one more image of the interrupted prompt.
            item = _END
        if isinstance(item, _End):
            self._ended = True
            if self._failure is not None and not self._cancel_requested:
                raise self._failure
            raise StopAsyncIteration
        return item

    async def cancel(self) -> None:
        """Stop the generation and any render in flight, and wait (bounded) until they have.

        Safe to call more than once, from any task, before, during or after
        iteration. Results not taken yet are dropped, even when the
        generation itself has finished: the iteration ends there.
        """
        task = self._task
        if task is not None and task.done():
            if not self._ended:
                self._cancel_requested = True
            return
        first, self._cancel_requested = not self._cancel_requested, True
        if task is None:
            await self._generation.aclose()
            return
        if first:
            # Only once: a second cancel() (the pipeline ending while an
            # interruption's cancel is still going) must wait for the
            # backend's clean-up, not interrupt it.
            task.cancel()
        finished, _ = await asyncio.wait({task}, timeout=self._cancel_timeout)
        if not finished:
            _log.warning(
                "generation still cancelling after %.1f s; no longer waiting", self._cancel_timeout
            )
            self._queue.put(_END)

    async def _produce(self) -> None:
        try:
            if self._generation.request.num_images == 1:
                # One image: nothing else of the generation is worth reading
                # while it renders, so it renders in this task rather than in
                # a task of its own (a task and a task group less per prompt,
                # the common case; benchmarks/profile_loop.py). The backend
                # then finishes (its clean-up, a closing warning) after it.
                await self._read(renders=None)
            else:
                async with asyncio.TaskGroup() as renders:
                    await self._read(renders=renders)
        finally:
            self._queue.put(_END)

    async def _read(self, *, renders: asyncio.TaskGroup | None) -> None:
        """Read the generation, queueing each event and rendering each image.

        Each image renders in a task of ``renders``, alongside the rest of the
        generation, or, without a task group, here before reading on.
        """
        try:
            events = self._generation.events() if self._progress else self._generation
            async for event in events:
                if isinstance(event, GenerationProgress):
                    self._queue.put(await self._progressed(event))
                    continue
                self._queue.put(Arrived(event))
                if renders is None:
                    await self._render_one(event)
                else:
                    renders.create_task(self._render_one(event))
        except ImageGenError as exc:
            # Images already being rendered are still delivered.
            self._fail(exc)
        except asyncio.CancelledError:
            # Cancelled in an inline render, the backend's generator sits at
            # its yield and has not seen the cancellation: close it now, so
            # that it cleans up (cancels, deletes uploads) at once rather than
            # whenever it is garbage-collected. Already finished, this is a no-op.
            await self._generation.aclose()
            raise

    async def _render_one(self, image: GeneratedImage) -> None:
        try:
            result = await self._render(image)
        except ImageGenError as exc:
            self._fail(exc, in_render=True)
        except Exception as exc:
            self._fail(
                ImageGenError(f"rendering image {image.index} failed: {_describe(exc)}"),
                in_render=True,
            )
        else:
            self._queue.put(Rendered(image, result))

    async def _progressed(self, progress: GenerationProgress) -> Progressed[T]:
        if self._render_preview is None or progress.preview is None:
            return Progressed(progress)
        try:
            return Progressed(progress, await self._render_preview(progress.preview))
        except Exception as exc:  # ImageGenError included: see render_preview above
            _log.warning("preview of image %d dropped: %s", progress.preview.index, _describe(exc))
            return Progressed(progress)

    def _fail(self, error: ImageGenError, *, in_render: bool = False) -> None:
        if self._failure is None:
            self._failure = error
            self._failure_in_render = in_render
        elif error.kind is not ErrorKind.CANCELED:
            _log.warning("further failure in the same generation: %s", error)


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ImageGenError) else f"{type(exc).__name__}: {exc}"
