"""Generate an image, then edit it from a second prompt, with progress shown as it draws.

    uv run examples/generate_then_edit.py

One image service with ``edit_last_image=True``: the first prompt draws a
picture, the second ("now at night...") edits the picture the service made
last instead of drawing a new one. ``progress_frames=True`` makes the service
push an ``ImageGenProgressFrame`` for every progress report; a processor at
the end of the pipeline prints them the way an app would show a caption
("drawing... 50% - step 2/4"), and keeps the finished images.

The backend is Replicate, on the emulator bundled with imagegen-testing (no
account, no network), running SDXL: its OpenAPI schema names the input that
takes the picture to edit (``image``), and it prints tqdm progress in its
logs, which the backend turns into fractions. The script prints the input of
each prediction the emulator received, the edit's ``image`` being the first
picture as a ``data:`` URL.

Exit status 0 when the second prompt reached Replicate with the first image
under the model's own input name and came back as a different image, and
progress frames with fractions arrived; 1 otherwise.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from PIL import Image
from pipecat.frames.frames import Frame, TextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from _example_kit import ErrorWatcher, ImageSink, check, quiet_logs, run_script
from imagegen_core import decode_data_url
from imagegen_core.pipecat import BackendImageGenService, ImageGenProgressFrame, pipeline_task
from imagegen_testing.emulator import SDXL, SDXL_VERSION, Latency, ReplicateEmulator

SIDE = 256
"""Width and height of the pictures, in pixels: small, so the example runs in a second."""


class ProgressCaptions(FrameProcessor):
    """Prints each progress report as an app's caption would show it."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[ImageGenProgressFrame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ImageGenProgressFrame):
            self.frames.append(frame)
            print(f"  drawing... {frame.text}")
        await self.push_frame(frame, direction)


def shown(value: Any) -> Any:
    """An input value as printed: ``data:`` URLs cut to their head and length."""
    if isinstance(value, str) and value.startswith("data:"):
        return f"{value[:30]}... ({len(value):,} characters)"
    return value


def pixels_of(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.convert("RGB").tobytes()


async def main() -> int:
    async with ReplicateEmulator() as emulator:
        # Replies come back unfinished and the model takes a moment, so the
        # backend polls and sees the tqdm lines appear in the logs.
        emulator.max_sync_wait = 0.01
        emulator.latency = Latency(queue=0.1, predict=0.5)
        image_gen = BackendImageGenService(
            backend="replicate",
            backend_settings={
                "api_token": emulator.api_token,
                "base_url": emulator.base_url,
                "model": f"{SDXL}:{SDXL_VERSION}",
                "inputs": {"num_inference_steps": 4, "width": SIDE, "height": SIDE},
                "poll_interval": 0.05,
                "poll_max_interval": 0.05,
            },
            edit_last_image=True,
            progress_frames=True,
        )
        errors, captions, sink = ErrorWatcher(), ProgressCaptions(), ImageSink()
        task = pipeline_task(Pipeline([errors, image_gen, captions, sink]), idle_timeout_secs=None)

        async def script() -> None:
            print("prompt 1: a lighthouse at dawn")
            await task.queue_frame(TextFrame("a lighthouse at dawn, screenprint poster"))
            await sink.wait_for(1)
            print("prompt 2: now at night, with a full moon")
            await task.queue_frame(TextFrame("now at night, with a full moon"))
            await sink.wait_for(2)

        await run_script(task, script)
        predictions = list(emulator.predictions.values())

    check(not errors.errors, f"error frames: {[error.error for error in errors.errors]}")
    for number, prediction in enumerate(predictions, start=1):
        print(f"prediction {number} ({prediction.model}), the input Replicate received:")
        for name, value in prediction.input.items():
            print(f"  {name}: {shown(value)}")
    check(len(predictions) == 2, f"expected two predictions, got {len(predictions)}")
    generate, edit = (prediction.input for prediction in predictions)
    check("image" not in generate, "the first prompt sent an image")
    sent = edit.get("image")
    check(isinstance(sent, str), "the second prompt sent no image: it was no edit")
    check(str(sent).startswith("data:"), "the edit's image was not sent inline")
    first, edited = sink.images
    sent_file, _ = decode_data_url(str(sent))
    check(pixels_of(sent_file) == first.image, "the edit's image is not the first picture")
    check(edited.image != first.image, "the edited image is the first image unchanged")
    fractions = [frame.progress.fraction for frame in captions.frames]
    check(any(fraction is not None for fraction in fractions), "no progress frame had a fraction")
    print(f"images: {len(sink.images)}; progress frames: {len(captions.frames)}")
    print("OK")
    return 0


if __name__ == "__main__":
    quiet_logs()
    raise SystemExit(asyncio.run(main()))
