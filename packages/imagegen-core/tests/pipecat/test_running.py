"""pipeline_task and run_pipeline_task: one way to run a pipeline on every supported Pipecat."""

from __future__ import annotations

import warnings

from pipecat.frames.frames import EndFrame, Frame, MetricsFrame, TextFrame, URLImageRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from imagegen_core.pipecat import BackendImageGenService, pipeline_task, run_pipeline_task
from imagegen_testing.fake import FakeBackend


class Sink(FrameProcessor):
    """Keeps every frame that reaches the end of the pipeline."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.frames.append(frame)
        await self.push_frame(frame, direction)


async def test_a_prompt_runs_to_an_image_and_the_pipeline_ends() -> None:
    sink = Sink()
    pipeline = Pipeline([BackendImageGenService(backend=FakeBackend()), sink])
    task = pipeline_task(pipeline, params={"enable_metrics": True}, idle_timeout_secs=None)
    assert task.params.enable_metrics
    await task.queue_frames([TextFrame("a red fox"), EndFrame()])
    with warnings.catch_warnings():
        # Neither helper may use a name the installed Pipecat has deprecated.
        warnings.simplefilter("error", DeprecationWarning)
        await run_pipeline_task(task)
    assert len([f for f in sink.frames if isinstance(f, URLImageRawFrame)]) == 1
    assert any(isinstance(f, MetricsFrame) for f in sink.frames)
    assert any(isinstance(f, EndFrame) for f in sink.frames)


def test_importing_the_service_does_not_import_the_pipeline_task_module() -> None:
    import subprocess
    import sys

    # On Pipecat 0.0.108 that import downloads NLTK data; only running may do it.
    code = (
        "import sys, imagegen_core.pipecat; "
        "print([m for m in ('pipecat.pipeline.task', 'pipecat.pipeline.worker') "
        "if m in sys.modules])"
    )
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert completed.stdout.strip().splitlines()[-1] == "[]"
