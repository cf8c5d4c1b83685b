"""Generate an image, then edit it from a second prompt, with progress shown as it draws.

    uv run examples/generate_then_edit.py

One image service with ``edit_last_image=True``: the first prompt draws a
picture, the second ("now at night...") edits the picture the service made
last instead of drawing a new one. ``progress_frames=True`` and
``preview_frames=True`` make the service push an ``ImageGenProgressFrame``
for every progress report and an ``ImageGenPreviewFrame`` for every partial
render; a watcher at the end of the pipeline prints them the way an app
would show a caption, and keeps only the finished images (previews are
``OutputImageRawFrame`` s, never ``URLImageRawFrame`` s).

The backend is OpenAI's GPT Image, streaming partial previews, on the OpenAI
emulator bundled with imagegen-testing (no account, no network). The script
prints the request the emulator received for the edit: the route, its form
fields and the uploaded image, which is the first picture.

Exit status 0 when the second prompt went to the edits route with the first
image as its input and came back as an image; 1 otherwise.
"""

from __future__ import annotations

import asyncio
import io

from PIL import Image
from pipecat.frames.frames import Frame, TextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from _example_kit import ErrorWatcher, ImageSink, check, quiet_logs, run_script
from imagegen_core.pipecat import (
    BackendImageGenService,
    ImageGenPreviewFrame,
    ImageGenProgressFrame,
    pipeline_task,
)
from imagegen_testing.openai_emulator import OpenAIEmulator, OpenAIRoute


class ProgressPrinter(FrameProcessor):
    """Prints progress captions and counts previews, as an app's display would show them."""

    def __init__(self) -> None:
        super().__init__()
        self.captions: list[str] = []
        self.previews = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ImageGenProgressFrame):
            self.captions.append(frame.text)
            print(f"  drawing... {frame.text}")
        elif isinstance(frame, ImageGenPreviewFrame):
            self.previews += 1
            print(f"  preview {frame.size[0]}x{frame.size[1]} (shown, not kept)")
        await self.push_frame(frame, direction)


def pixels_of(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


async def main() -> int:
    async with OpenAIEmulator() as emulator:
        image_gen = BackendImageGenService(
            backend="openai",
            backend_settings={
                "base_url": emulator.base_url,
                "api_key": emulator.api_key,
                "model": "gpt-image-1",
                "stream": True,
                "partial_images": 2,
            },
            settings=BackendImageGenService.Settings(size="1024x1024"),
            edit_last_image=True,
            progress_frames=True,
            preview_frames=True,
        )
        errors, progress, sink = ErrorWatcher(), ProgressPrinter(), ImageSink()
        task = pipeline_task(Pipeline([errors, image_gen, progress, sink]), idle_timeout_secs=None)

        async def script() -> None:
            print("prompt 1: a lighthouse at dawn")
            await task.queue_frame(TextFrame("a lighthouse at dawn, screenprint poster"))
            await sink.wait_for(1)
            print("prompt 2: now at night, with a full moon")
            await task.queue_frame(TextFrame("now at night, with a full moon"))
            await sink.wait_for(2)

        await run_script(task, script)
        requests = emulator.requests

    routes = [request.route for request in requests]
    print(f"routes the emulator served: {[route.value for route in routes]}")
    check(not errors.errors, f"error frames: {[error.error for error in errors.errors]}")
    check(routes == [OpenAIRoute.GENERATIONS, OpenAIRoute.EDITS], "the second prompt was no edit")
    edit = requests[1]
    print("the edit request the emulator received:")
    print(f"  fields: {edit.fields}")
    for upload in edit.uploads:
        print(
            f"  upload {upload.field}: {upload.content_type}, {upload.format.value}, "
            f"{upload.size}, {upload.bytes:,} bytes, sha256 {upload.digest[:12]}"
        )
    first, edited = sink.images
    check(len(edit.uploads) == 1, "the edit carried no image")
    check(tuple(edit.uploads[0].size) == first.size, "the edit's input is not the first picture")
    check(edited.image != first.image, "the edited image is the first image unchanged")
    print(
        f"images kept: {len(sink.images)}; progress frames: {len(progress.captions)}; "
        f"previews shown: {progress.previews}"
    )
    check(progress.previews > 0, "no preview frames arrived")
    check(len(progress.captions) > 0, "no progress frames arrived")
    print("OK")
    return 0


if __name__ == "__main__":
    quiet_logs()
    raise SystemExit(asyncio.run(main()))
