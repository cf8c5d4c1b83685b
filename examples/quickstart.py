"""Turn a prompt into image files with a Pipecat pipeline and ReplicateImageGenService.

    uv run examples/quickstart.py "a lighthouse at dawn, screenprint poster"
    uv run examples/quickstart.py "three red foxes" -n 3 --aspect-ratio 16:9 --out foxes

Without ``REPLICATE_API_TOKEN`` in the environment it starts the Replicate
emulator from imagegen-testing in this process (no account, no network); with
the token set it calls the real Replicate API (and is billed as such).

The pipeline is ``errors -> image_gen -> files``: the ``TextFrame`` prompt goes
through ``ReplicateImageGenService``, each ``URLImageRawFrame`` it produces is
saved as a PNG encoded from the frame's RGB pixels (exactly what a Pipecat app
would display, not the WebP file Replicate made), and ``ErrorFrame``s, which
travel upstream, are caught at the head of the pipeline. Each path written is
printed on stdout; anything else goes to stderr. The exit status is 0 when at
least one image was written and no error was reported, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
from loguru import logger
from PIL import Image
from pipecat.frames.frames import EndFrame, ErrorFrame, Frame, TextFrame, URLImageRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from imagegen_core import ImageGenError
from imagegen_core.cli import prompt_stem, write_image
from imagegen_core.pipecat import pipeline_task, run_pipeline_task
from imagegen_replicate import TOKEN_ENV_VAR, ReplicateImageGenService

DEFAULT_OUT = Path("imagegen-output")


class ErrorCollector(FrameProcessor):
    """Remembers every ``ErrorFrame`` passing by (they travel upstream, to the head)."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ErrorFrame):
            self.errors.append(frame.error)
        await self.push_frame(frame, direction)


class ImageFileWriter(FrameProcessor):
    """Saves each image frame as a PNG in ``folder`` and prints its path."""

    def __init__(self, folder: Path, stem: str) -> None:
        super().__init__()
        self.folder = folder
        self.stem = stem
        self.paths: list[Path] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, URLImageRawFrame):
            path = await asyncio.to_thread(self._save, frame)
            self.paths.append(path)
            print(path, flush=True)
            return  # the image ends here; nothing downstream wants it
        await self.push_frame(frame, direction)

    def _save(self, frame: URLImageRawFrame) -> Path:
        image = Image.frombytes(frame.format or "RGB", frame.size, frame.image)
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return write_image(self.folder, self.stem, buffer.getvalue(), "image/png")


async def generate(prompt: str, *, out: Path, count: int, aspect_ratio: str) -> int:
    """Run the pipeline once; return the exit status."""
    async with AsyncExitStack() as stack:
        connection: dict[str, Any] = {}
        if os.environ.get(TOKEN_ENV_VAR, "").strip():
            say(f"Calling the Replicate API ({TOKEN_ENV_VAR} is set).")
        else:
            # Imported only here: the live path needs nothing from imagegen-testing.
            from imagegen_testing.emulator import ReplicateEmulator

            emulator = await stack.enter_async_context(ReplicateEmulator())
            connection = {"api_token": emulator.api_token, "base_url": emulator.base_url}
            say(f"{TOKEN_ENV_VAR} is not set: using the bundled emulator at {emulator.base_url}")
        session = await stack.enter_async_context(aiohttp.ClientSession())
        try:
            image_gen = ReplicateImageGenService(
                aiohttp_session=session,
                settings=ReplicateImageGenService.Settings(
                    num_outputs=count, aspect_ratio=aspect_ratio
                ),
                **connection,
            )
        except ImageGenError as error:
            say(f"error: {error}")
            return 1
        errors = ErrorCollector()
        files = ImageFileWriter(out, prompt_stem(prompt))
        # pipeline_task/run_pipeline_task work on every supported Pipecat; an app
        # on one release can use that release's PipelineTask (PipelineWorker) itself.
        task = pipeline_task(
            Pipeline([errors, image_gen, files]), enable_rtvi=False, idle_timeout_secs=None
        )
        await task.queue_frames([TextFrame(prompt), EndFrame()])
        await run_pipeline_task(task)

    for message in errors.errors:
        say(f"error: {message}")
    if errors.errors:
        return 1
    if not files.paths:
        say("error: no image was generated")
        return 1
    say(f"wrote {len(files.paths)} image(s) to {out}")
    return 0


def quiet_logs() -> None:
    """Keep the output to the paths and to what went wrong.

    Pipecat logs every frame processor's start at INFO through loguru.
    """
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Turn a prompt into image files through a Pipecat pipeline "
        "(the Replicate emulator when REPLICATE_API_TOKEN is not set).",
    )
    parser.add_argument("prompt", help="what the image should show")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for the images, created if needed (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "-n", type=int, default=1, choices=range(1, 5), metavar="N", help="images, 1 to 4"
    )
    parser.add_argument(
        "--aspect-ratio", default="1:1", help="e.g. 1:1, 16:9, 9:16, 21:9 (default: 1:1)"
    )
    args = parser.parse_args(argv)
    if not args.prompt.strip():
        parser.error("the prompt is empty")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logs()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        say(f"error: cannot create {args.out}: {exc}")
        return 1
    try:
        return asyncio.run(
            generate(args.prompt, out=args.out, count=args.n, aspect_ratio=args.aspect_ratio)
        )
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
