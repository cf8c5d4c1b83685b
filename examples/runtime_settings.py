"""Change an image service's settings while the pipeline runs.

    uv run examples/runtime_settings.py

``ImageGenUpdateSettingsFrame(delta=BackendImageGenService.Settings(...))``
changes only the fields given, from the next prompt on. An update is checked
before it is applied: one that would not make a valid request (here, an
aspect ratio that is not one) changes nothing and comes back as an error frame, and
the service keeps serving with the settings it had.

The script sends a prompt (one square image), an update (two wide ones), a
refused update, and a last prompt, and checks what came back.
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import TextFrame
from pipecat.pipeline.pipeline import Pipeline

from _example_kit import ErrorWatcher, ImageSink, check, quiet_logs, run_script
from imagegen_core.pipecat import BackendImageGenService, ImageGenUpdateSettingsFrame, pipeline_task

Settings = BackendImageGenService.Settings


def shape(size: tuple[int, int]) -> str:
    width, height = size
    return "square" if width == height else "wide" if width > height else "tall"


async def main() -> int:
    image_gen = BackendImageGenService(backend="fake", settings=Settings(aspect_ratio="1:1"))
    errors, sink = ErrorWatcher(), ImageSink()
    task = pipeline_task(Pipeline([errors, image_gen, sink]), idle_timeout_secs=None)

    async def script() -> None:
        await task.queue_frame(TextFrame("a lighthouse at dawn"))
        await sink.wait_for(1)

        wide_pair = Settings(aspect_ratio="16:9", num_images=2)
        await task.queue_frame(ImageGenUpdateSettingsFrame(delta=wide_pair))
        await task.queue_frame(TextFrame("a red fox in the snow"))
        await sink.wait_for(3)

        # Not an aspect ratio: refused as a whole, nothing changes.
        refused = Settings(aspect_ratio="wide", num_images=1)
        await task.queue_frame(ImageGenUpdateSettingsFrame(delta=refused))
        await task.queue_frame(TextFrame("three boats at sea"))
        await sink.wait_for(5)

    await run_script(task, script)

    for frame in sink.images:
        print(f"{frame.size[0]}x{frame.size[1]} ({shape(frame.size)})")
    for error in errors.errors:
        print("refused:", error.error)
    shapes = [shape(frame.size) for frame in sink.images]
    check(shapes == ["square", "wide", "wide", "wide", "wide"], f"unexpected images: {shapes}")
    check(len(errors.errors) == 1, f"expected one refused update, got {len(errors.errors)}")
    print("OK")
    return 0


if __name__ == "__main__":
    quiet_logs()
    raise SystemExit(asyncio.run(main()))
