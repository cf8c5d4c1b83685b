"""Fail over from one backend to another with Pipecat's ServiceSwitcher.

    uv run examples/failover.py

Two image services behind one ``ServiceSwitcher``: Replicate first (the
bundled emulator, scripted to fail the first prediction the way a provider
outage does), the fake backend as the backup. The script shows the four
things an app has to get right, and prints what the installed Pipecat did:

1. **The import and the strategy**: ``ServiceSwitcher`` and
   ``ServiceSwitcherStrategyFailover`` from ``pipecat.pipeline.service_switcher``.
2. **The event**: ``on_service_switched(strategy, service)`` on the switcher's
   strategy says which service took over.
3. **Re-sending the failed prompt**: the switcher never retries the prompt
   that failed; the handler sends it again, to the new service.
4. **Settings for every service**: an update normally reaches only the active
   service. Pipecat 1.8+ delivers one marked ``reach_inactive_services=True``
   to all of them; 0.0.108 has no such field, so there the handler applies
   the settings again to the service that took over.

What else differs: on 0.0.108 the strategy switches on *every* error frame
and the failed service's ``ErrorFrame`` travels on upstream (the watcher at
the head sees it); on 1.8+ it switches only when the service marks itself
unusable (a server failure does, a content refusal does not) and the switcher
absorbs the error frame once it has switched.

Exit status 0 when both prompts came back as 16:9 images from the backup.
"""

from __future__ import annotations

import asyncio
import dataclasses

from pipecat.frames.frames import Frame, TextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.service_switcher import ServiceSwitcher, ServiceSwitcherStrategyFailover
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from _example_kit import ErrorWatcher, ImageSink, check, quiet_logs, run_script
from imagegen_core.pipecat import (
    BackendImageGenService,
    ImageGenUpdateSettingsFrame,
    pipeline_task,
)
from imagegen_testing.emulator import Fault, ReplicateEmulator

Settings = BackendImageGenService.Settings
WIDE = Settings(aspect_ratio="16:9")

REACHES_INACTIVE_SERVICES = "reach_inactive_services" in {
    field.name for field in dataclasses.fields(ImageGenUpdateSettingsFrame)
}
"""Whether the installed Pipecat can address a settings update to every switched service."""


class LastPrompt(FrameProcessor):
    """Remembers the last prompt on its way to the switcher, so it can be sent again."""

    def __init__(self) -> None:
        super().__init__()
        self.text: str | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TextFrame):
            self.text = frame.text
        await self.push_frame(frame, direction)


async def main() -> int:
    async with ReplicateEmulator() as emulator:
        # The first prediction fails, as during a provider outage (kind: server).
        emulator.script(Fault.failed_prediction("the GPU caught fire"))
        primary = BackendImageGenService(
            backend="replicate",
            backend_settings={"api_token": emulator.api_token, "base_url": emulator.base_url},
            name="replicate",
        )
        backup = BackendImageGenService(backend="fake", name="fake")
        switcher = ServiceSwitcher(
            services=[primary, backup], strategy_type=ServiceSwitcherStrategyFailover
        )
        errors, last_prompt, sink = ErrorWatcher(), LastPrompt(), ImageSink()
        task = pipeline_task(
            Pipeline([errors, last_prompt, switcher, sink]), idle_timeout_secs=None
        )

        switched_to: list[str] = []

        async def on_service_switched(strategy: object, service: FrameProcessor) -> None:
            switched_to.append(service.name)
            print(f"switched to {service.name}")
            if not REACHES_INACTIVE_SERVICES:
                # 0.0.108: the update never reached this service; apply it now.
                await task.queue_frame(ImageGenUpdateSettingsFrame(delta=WIDE))
            if last_prompt.text is not None:
                print(f"re-sending {last_prompt.text!r}")
                await task.queue_frame(TextFrame(last_prompt.text))

        switcher.strategy.add_event_handler("on_service_switched", on_service_switched)

        async def script() -> None:
            if REACHES_INACTIVE_SERVICES:
                update = ImageGenUpdateSettingsFrame(delta=WIDE, reach_inactive_services=True)
            else:
                update = ImageGenUpdateSettingsFrame(delta=WIDE)
            await task.queue_frames([update, TextFrame("a lighthouse at dawn")])
            await sink.wait_for(1)  # the re-sent prompt, drawn by the backup
            await task.queue_frame(TextFrame("a red fox in the snow"))
            await sink.wait_for(2)

        await run_script(task, script)

    drawn_by = sorted({image.metadata["imagegen"]["backend"] for image in sink.images})
    print(f"images: {len(sink.images)}, from {drawn_by}")
    print(f"error frames that reached the head of the pipeline: {len(errors.errors)}")
    # 1.8+ absorbs the failed service's error frame once it has switched; 0.0.108 passes it on.
    expected_errors = 0 if hasattr(FrameProcessor, "set_usable") else 1
    check(len(errors.errors) == expected_errors, f"expected {expected_errors} error frame(s)")
    check(switched_to == ["fake"], f"expected one switch to the fake backend, saw {switched_to}")
    check(len(sink.images) == 2, f"expected 2 images, got {len(sink.images)}")
    for image in sink.images:
        check(
            image.metadata["imagegen"]["backend"] == "fake", "an image came from the failed service"
        )
        width, height = image.size
        # Within 10 %: backends round sizes to what their models make.
        check(
            abs(width / height / (16 / 9) - 1) < 0.1, f"the settings update was lost: {image.size}"
        )
    print("OK: failed over, re-sent the prompt, and the backup had the settings")
    return 0


if __name__ == "__main__":
    quiet_logs()
    raise SystemExit(asyncio.run(main()))
