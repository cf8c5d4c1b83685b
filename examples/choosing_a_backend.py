"""Choose a backend by name, by IMAGEGEN_BACKEND, or as the only one installed.

    uv run examples/choosing_a_backend.py

The same order of choice holds everywhere: ``create_backend()`` (no Pipecat),
``BackendImageGenService`` and the ``imagegen`` command each take the name
given, else the ``IMAGEGEN_BACKEND`` environment variable, else the only
installed backend, else fail with a list of what is installed. Choosing a
backend imports only its plugin. Test doubles such as imagegen-testing's
``fake`` are used only when named, never as "the only one".

The script lists the installed backends, then makes one image through the
Pipecat service for each way of choosing, and prints which backend drew it.
"""

from __future__ import annotations

import asyncio
import os

from pipecat.frames.frames import TextFrame
from pipecat.pipeline.pipeline import Pipeline

from _example_kit import ImageSink, check, quiet_logs, run_script
from imagegen_core import ImageGenError, ImageRequest, available_backends, create_backend
from imagegen_core.pipecat import BackendImageGenService, pipeline_task
from imagegen_core.plugins import ENV_BACKEND


async def draw_with(service: BackendImageGenService) -> str:
    """One prompt through ``service``; the name of the backend that drew it."""
    sink = ImageSink()
    task = pipeline_task(Pipeline([service, sink]), idle_timeout_secs=None)

    async def script() -> None:
        await task.queue_frame(TextFrame("a lighthouse at dawn"))
        await sink.wait_for(1)

    await run_script(task, script)
    backend: str = sink.images[0].metadata["imagegen"]["backend"]
    return backend


async def main() -> int:
    os.environ.pop(ENV_BACKEND, None)
    names = ", ".join(info.name for info in available_backends())
    print(f"installed: {names} (test doubles such as fake are left out: used only when named)")

    # 1. By name, without Pipecat: the protocol directly.
    async with create_backend("fake") as backend:
        images = await backend.generate(ImageRequest(prompt="a red fox")).collect()
    print(f"create_backend('fake') -> {backend.name}: {len(images)} {images[0].media_type} image")
    check(len(images) == 1, "the backend made no image")

    # 2. By name, in a pipeline.
    drawn = await draw_with(BackendImageGenService(backend="fake"))
    print("BackendImageGenService(backend='fake') ->", drawn)
    check(drawn == "fake", "the service did not use the backend it was given")

    # 3. By the environment variable: the code names no backend.
    os.environ[ENV_BACKEND] = "fake"
    drawn = await draw_with(BackendImageGenService())
    print(f"{ENV_BACKEND}=fake, BackendImageGenService() ->", drawn)
    check(drawn == "fake", f"{ENV_BACKEND} was not followed")
    del os.environ[ENV_BACKEND]

    # 4. Nothing named: the only production backend installed, or a clear error.
    try:
        chosen = create_backend()
    except ImageGenError as error:
        print("create_backend() ->", error)
    else:
        print("create_backend() ->", chosen.name, "(the only production backend installed)")
        check(chosen.name != "fake", "a test double was chosen without being named")
        await chosen.aclose()
    print("OK")
    return 0


if __name__ == "__main__":
    quiet_logs()
    raise SystemExit(asyncio.run(main()))
