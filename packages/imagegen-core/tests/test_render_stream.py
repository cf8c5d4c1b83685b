"""RenderStream: one generation rendered in completion order, cancellable from anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from imagegen_core import ErrorKind, GeneratedImage, ImageGenError, ImageRequest
from imagegen_core._render_stream import Arrived, Progressed, Rendered, RenderStream
from imagegen_testing.fake import FakeBackend


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a counter of the fake backend to change (the fake has no event to wait on)."""
    async with asyncio.timeout(2):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


async def rendered_until_failure(stream: RenderStream[int], rendered: list[int]) -> None:
    async for event in stream:
        if isinstance(event, Rendered):
            rendered.append(event.result)


def stream_of(
    backend: FakeBackend, render_delays: dict[int, float] | None = None, num_images: int = 1
) -> RenderStream[int]:
    """A stream whose render returns the image index, after an optional delay per index."""
    delays = render_delays or {}

    async def render(image: GeneratedImage) -> int:
        await asyncio.sleep(delays.get(image.index, 0))
        return image.index

    generation = backend.generate(ImageRequest(prompt="a lighthouse", num_images=num_images))
    return RenderStream(generation, render)


async def test_results_come_in_completion_order_after_their_arrival() -> None:
    finish_order = [1, 2, 0]
    finished = {index: asyncio.Event() for index in finish_order}

    async def render(image: GeneratedImage) -> int:
        position = finish_order.index(image.index)
        if position:
            await finished[finish_order[position - 1]].wait()
        finished[image.index].set()
        return image.index

    generation = FakeBackend().generate(ImageRequest(prompt="a lighthouse", num_images=3))
    events = [event async for event in RenderStream(generation, render)]
    arrived = [e.image.index for e in events if isinstance(e, Arrived)]
    rendered = [e.result for e in events if isinstance(e, Rendered)]
    assert arrived == [0, 1, 2]
    assert rendered == finish_order
    assert isinstance(events[0], Arrived)


async def test_images_ready_before_a_failure_are_still_delivered() -> None:
    backend = FakeBackend({"fail_with": ErrorKind.SERVER, "fail_after_images": 1})
    stream = stream_of(backend, {0: 0.02}, num_images=2)  # image 0 still rendering at the failure
    rendered: list[int] = []
    with pytest.raises(ImageGenError) as caught:
        await rendered_until_failure(stream, rendered)
    assert rendered == [0]
    assert caught.value.kind is ErrorKind.SERVER


async def test_a_failed_render_does_not_stop_the_others() -> None:
    async def render(image: GeneratedImage) -> int:
        if image.index == 0:
            raise ImageGenError("download refused", kind=ErrorKind.INVALID_REQUEST)
        return image.index

    stream = RenderStream(FakeBackend().generate(ImageRequest(prompt="x", num_images=3)), render)
    rendered: list[int] = []
    with pytest.raises(ImageGenError, match="download refused"):
        await rendered_until_failure(stream, rendered)
    assert sorted(rendered) == [1, 2]


async def test_an_unexpected_render_exception_becomes_an_image_gen_error() -> None:
    async def render(image: GeneratedImage) -> int:
        raise KeyError("bug")

    stream = RenderStream(FakeBackend().generate(ImageRequest(prompt="x")), render)
    with pytest.raises(ImageGenError) as caught:
        async for _ in stream:
            pass
    assert caught.value.kind is ErrorKind.UNKNOWN
    assert "KeyError" in caught.value.message


async def test_cancel_from_another_task_stops_remote_work_and_ends_quietly() -> None:
    backend = FakeBackend({"latency": 30})
    stream = stream_of(backend)
    consumer = asyncio.create_task(anext(stream, None))
    await until(lambda: backend.jobs_started > 0)
    await stream.cancel()
    assert backend.jobs_cancelled == 1
    assert backend.jobs_running == 0
    assert await asyncio.wait_for(consumer, 1) is None
    assert stream.cancel_requested
    assert stream.done


async def test_images_rendered_before_a_cancel_are_not_delivered_after_it() -> None:
    # A Pipecat interruption cancels the stream; an image whose render had
    # finished, but that the consumer had not taken yet, must not follow the
    # interruption downstream.
    rendered: list[int] = []

    async def render(image: GeneratedImage) -> int:
        rendered.append(image.index)
        return image.index

    generation = FakeBackend().generate(ImageRequest(prompt="a lighthouse", num_images=2))
    stream = RenderStream(generation, render)
    first = await anext(stream)
    assert isinstance(first, Arrived)
    await until(lambda: len(rendered) == 2)  # both rendered, waiting in the stream
    await stream.cancel()
    assert [event async for event in stream] == []


class CancelReportingBackend(FakeBackend):
    """Answers cancellation with an ImageGenError, as a provider poll seeing 'canceled' might."""

    async def _generate(self, request: ImageRequest):  # type: ignore[override]
        self.jobs_started += 1
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise ImageGenError("prediction was canceled", kind=ErrorKind.CANCELED) from None
        yield GeneratedImage(data=b"unreachable")


async def test_a_canceled_error_after_our_own_cancel_is_not_reported() -> None:
    backend = CancelReportingBackend()
    stream = stream_of(backend)
    consumer = asyncio.create_task(anext(stream, None))
    await until(lambda: backend.jobs_started > 0)
    await stream.cancel()
    assert await asyncio.wait_for(consumer, 1) is None


async def test_cancel_before_the_first_image_was_asked_for_starts_nothing() -> None:
    backend = FakeBackend()
    stream = stream_of(backend)
    await stream.cancel()
    assert [event async for event in stream] == []
    assert backend.jobs_started == 0


async def test_cancelling_the_consumer_then_the_stream_cancels_remote_work() -> None:
    backend = FakeBackend({"latency": 30})
    stream = stream_of(backend)

    async def consume() -> None:
        try:
            async for _ in stream:
                pass
        finally:
            await stream.cancel()

    consumer = asyncio.create_task(consume())
    await until(lambda: backend.jobs_started > 0)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert backend.jobs_cancelled == 1


async def test_cancel_gives_up_waiting_after_its_timeout() -> None:
    backend = FakeBackend({"latency": 30, "cancel_latency": 0.2})

    async def render(image: GeneratedImage) -> int:
        return image.index

    stream = RenderStream(backend.generate(ImageRequest(prompt="x")), render, cancel_timeout=0.05)
    consumer = asyncio.create_task(anext(stream, None))
    await until(lambda: backend.jobs_started > 0)
    await stream.cancel()
    assert backend.jobs_cancelled == 0  # still cancelling remotely, in the background
    assert await asyncio.wait_for(consumer, 1) is None
    await until(lambda: backend.jobs_running == 0)
    assert backend.jobs_cancelled == 1


# -- progress ------------------------------------------------------------------------


def progress_stream(
    backend: FakeBackend, *, previews: bool, failing_preview: bool = False
) -> RenderStream[int]:
    async def render(image: GeneratedImage) -> int:
        return image.index

    async def render_preview(image: GeneratedImage) -> int:
        if failing_preview:
            raise ImageGenError("preview is not an image")
        await asyncio.sleep(0.01)  # slower than the image that follows
        return 100 + image.index

    generation = backend.generate(ImageRequest(prompt="a lighthouse", num_images=2))
    return RenderStream(
        generation, render, progress=True, render_preview=render_preview if previews else None
    )


async def test_without_progress_the_stream_yields_no_progress_events() -> None:
    backend = FakeBackend({"progress_steps": 2, "progress_previews": True})
    events = [event async for event in stream_of(backend, num_images=2)]
    assert not any(isinstance(event, Progressed) for event in events)
    assert sum(isinstance(event, Rendered) for event in events) == 2


async def test_progress_events_come_in_order_each_before_the_image_it_reports_on() -> None:
    backend = FakeBackend({"progress_steps": 2, "progress_previews": True})
    events = [event async for event in progress_stream(backend, previews=False)]
    progressed = [event for event in events if isinstance(event, Progressed)]
    assert [event.progress.fraction for event in progressed] == [0.25, 0.5, 0.75, 1.0]
    assert all(event.preview is None for event in progressed)  # previews not asked for
    first_image = next(i for i, event in enumerate(events) if isinstance(event, Arrived))
    assert all(isinstance(event, Progressed) for event in events[:2])
    assert first_image == 2


async def test_previews_are_rendered_before_the_image_they_preview_arrives() -> None:
    backend = FakeBackend({"progress_steps": 1, "progress_previews": True})
    events = [event async for event in progress_stream(backend, previews=True)]
    order = [
        ("preview", event.preview)
        if isinstance(event, Progressed)
        else ("arrived", event.image.index)
        if isinstance(event, Arrived)
        else ("rendered", event.result)
        for event in events
    ]
    assert order.index(("preview", 100)) < order.index(("arrived", 0))
    assert order.index(("preview", 101)) < order.index(("arrived", 1))


async def test_a_preview_that_fails_to_render_leaves_its_report_and_the_images() -> None:
    backend = FakeBackend({"progress_steps": 1, "progress_previews": True})
    stream = progress_stream(backend, previews=True, failing_preview=True)
    events = [event async for event in stream]
    assert [event.preview for event in events if isinstance(event, Progressed)] == [None, None]
    assert sorted(event.result for event in events if isinstance(event, Rendered)) == [0, 1]


class CleanupCountingBackend(FakeBackend):
    """Yields its one image, then has clean-up (a finally) still to run, as with uploads."""

    cleaned_up = 0

    async def _generate(self, request: ImageRequest):  # type: ignore[override]
        try:
            yield GeneratedImage(data=b"one image")
            await asyncio.sleep(0)
        finally:
            self.cleaned_up += 1


async def test_one_image_cancelled_while_rendering_closes_the_backend_generator() -> None:
    # One image renders in the stream's own task, the backend's generator
    # suspended at its yield; a cancel then must still reach the generator.
    backend = CleanupCountingBackend()
    rendering = asyncio.Event()

    async def render(image: GeneratedImage) -> int:
        rendering.set()
        await asyncio.sleep(30)
        return image.index

    stream = RenderStream(backend.generate(ImageRequest(prompt="a lighthouse")), render)
    consumer = asyncio.create_task(anext(stream, None))
    await asyncio.wait_for(rendering.wait(), 2)
    await stream.cancel()
    assert backend.cleaned_up == 1
    assert stream.done
    assert isinstance(await asyncio.wait_for(consumer, 1), Arrived)  # taken before the cancel
    assert [event async for event in stream] == []  # and nothing after it


async def test_one_image_and_several_images_both_deliver_every_render() -> None:
    for num_images in (1, 3):
        rendered: list[int] = []
        await rendered_until_failure(stream_of(FakeBackend(), num_images=num_images), rendered)
        assert sorted(rendered) == list(range(num_images))


async def test_a_consumer_cancelled_while_waiting_leaves_the_stream_readable() -> None:
    backend = FakeBackend({"latency": 0.05})
    stream = stream_of(backend)
    waiting = asyncio.create_task(anext(stream))
    await until(lambda: backend.jobs_started > 0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # The generation went on in its own task; a new read picks it up where it is.
    events = [event async for event in stream]
    assert [type(event) for event in events] == [Arrived, Rendered]
    assert backend.jobs_cancelled == 0


async def test_a_second_task_reading_the_same_stream_at_once_is_refused() -> None:
    backend = FakeBackend({"latency": 0.05})
    stream = stream_of(backend)
    first = asyncio.create_task(anext(stream))
    await until(lambda: backend.jobs_started > 0)
    with pytest.raises(RuntimeError, match="already being read"):
        await anext(stream)
    assert isinstance(await first, Arrived)
    await stream.cancel()
