"""Images in sync with speech, the way Pipecat's own examples do it: SyncParallelPipeline.

    uv run examples/speech_and_images.py

A storytelling bot speaks one sentence at a time and shows a picture of
each. Text-to-speech is fast and image generation slow, so in a plain
pipeline the bot would be three sentences further on by the time the first
picture arrives. Pipecat's ``SyncParallelPipeline`` (its foundational
example "sync speech and image" uses it) gives every sentence to both
branches, the TTS and the image service, and releases what the branches made
for a sentence only when both are done with it: the audio and the picture of
one sentence leave together, then those of the next.

The TTS here is a stand-in (:class:`FakeTTS`: a few chunks of silence per
sentence, at once) and the images come from the fake backend, slowed down to
take longer than speech, so the example needs no account. A real bot puts its
TTS service in the first branch and ``transport.output()`` after the
``SyncParallelPipeline``; the output transport then shows each image as the
audio of its sentence starts playing.

The same sentences also go through an unsynchronised ``ParallelPipeline``,
to print the order the frames would arrive in without it.

Exit status 0 when, with the sync pipeline, every sentence's audio and image
arrived before anything of the next sentence.
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    Frame,
    TextFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    URLImageRawFrame,
)
from pipecat.pipeline.base_pipeline import BasePipeline
from pipecat.pipeline.parallel_pipeline import ParallelPipeline
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.sync_parallel_pipeline import SyncParallelPipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from _example_kit import ImageSink, check, quiet_logs, run_script
from imagegen_core.pipecat import BackendImageGenService, pipeline_task

SENTENCES = [
    "A lighthouse stands on a cliff at dawn.",
    "A fox walks along the beach below it.",
    "Gulls circle over a fishing boat.",
]
SAMPLE_RATE = 16_000
CHUNKS_PER_SENTENCE = 3


class FakeTTS(FrameProcessor):
    """Stands in for a TTS service: each sentence becomes a few chunks of silent audio at once.

    Each chunk carries the sentence's number in ``metadata["sentence"]``, so
    the order frames arrive in can be checked.
    """

    def __init__(self) -> None:
        super().__init__()
        self._sentences = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, TextFrame) or direction is not FrameDirection.DOWNSTREAM:
            await self.push_frame(frame, direction)
            return
        number, self._sentences = self._sentences, self._sentences + 1
        await self.push_frame(TTSStartedFrame())
        for _ in range(CHUNKS_PER_SENTENCE):
            chunk = TTSAudioRawFrame(
                audio=bytes(SAMPLE_RATE // 10 * 2), sample_rate=SAMPLE_RATE, num_channels=1
            )
            chunk.metadata["sentence"] = number
            await self.push_frame(chunk)
        await self.push_frame(TTSStoppedFrame())


class ArrivalOrder(FrameProcessor):
    """Notes, in arrival order, which sentence each audio chunk and image belongs to."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[str, int]] = []
        self._images = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            self.order.append(("audio", int(frame.metadata["sentence"])))
        elif isinstance(frame, URLImageRawFrame):
            # One image per sentence, in order: the n-th image is sentence n's.
            self.order.append(("image", self._images))
            self._images += 1
        await self.push_frame(frame, direction)


def slow_images() -> BackendImageGenService:
    """The fake backend, taking longer per image than the fake TTS takes per sentence."""
    return BackendImageGenService(backend="fake", backend_settings={"latency": 0.2})


async def arrival_order(branches: type[BasePipeline]) -> list[tuple[str, int]]:
    """Speak and draw every sentence through ``branches``; the order the frames arrived in."""
    order, images = ArrivalOrder(), ImageSink()
    parallel = branches([FakeTTS()], [slow_images()])  # type: ignore[call-arg]
    task = pipeline_task(Pipeline([parallel, order, images]), idle_timeout_secs=None)

    async def script() -> None:
        await task.queue_frames([TextFrame(sentence) for sentence in SENTENCES])
        await images.wait_for(len(SENTENCES))

    await run_script(task, script)
    return order.order


def sentences_in_order(order: list[tuple[str, int]]) -> str:
    return " ".join(f"{kind}{number + 1}" for kind, number in order)


async def main() -> int:
    unsynced = await arrival_order(ParallelPipeline)
    print(f"ParallelPipeline:     {sentences_in_order(unsynced)}")
    synced = await arrival_order(SyncParallelPipeline)
    print(f"SyncParallelPipeline: {sentences_in_order(synced)}")

    numbers = [number for _, number in synced]
    check(numbers == sorted(numbers), "a frame of a later sentence overtook an earlier one")
    for number in range(len(SENTENCES)):
        check(("image", number) in synced, f"sentence {number + 1} has no image")
        check(("audio", number) in synced, f"sentence {number + 1} has no audio")
    print("OK: each sentence's audio and image left the sync pipeline together, in order")
    return 0


if __name__ == "__main__":
    quiet_logs()
    raise SystemExit(asyncio.run(main()))
