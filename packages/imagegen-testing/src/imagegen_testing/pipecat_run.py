"""Running an image service through a real Pipecat pipeline, on every supported Pipecat.

``pipecat.tests.utils.run_test`` differs between the releases imagegen
supports: where ``PipelineParams`` lives, and whether a start timeout can be
given (1.8 and newer give a pipeline one second to start, and the first start in a
process, with its lazy imports, can take longer on a loaded machine). These
helpers hide that, for imagegen's own suites, the conformance suite and
third-party backend authors alike.

Pipecat is imported inside the functions, so importing this module (or the
pytest plugin) never imports Pipecat. On Pipecat < 1.12, use the
``imagegen_offline_nltk`` fixture too: those releases download NLTK data
when a pipeline starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

__all__ = ["error_frames", "image_frames", "pause", "run_service"]

DEFAULT_START_TIMEOUT = 15.0
"""Seconds a pipeline may take to start before ``run_test`` gives up."""


async def run_service(
    service: Any,
    frames: Sequence[Any],
    *,
    metrics: bool = False,
    send_end_frame: bool = True,
    start_timeout: float = DEFAULT_START_TIMEOUT,
) -> tuple[list[Any], list[Any]]:
    """Send ``frames`` through ``service`` in a pipeline; return (downstream, upstream) frames.

    Args:
        service: The Pipecat frame processor under test.
        frames: Frames to queue, in order (``SleepFrame`` from :func:`pause` to wait).
        metrics: Enable Pipecat's metrics frames (TTFB, processing).
        send_end_frame: End the pipeline with an ``EndFrame`` (else a ``CancelFrame``).
        start_timeout: Seconds the pipeline may take to start, where Pipecat accepts it.
    """
    from pipecat.tests.utils import run_test

    try:
        from pipecat.pipeline.worker import PipelineParams
    except ImportError:  # Pipecat before 1.8 keeps it beside PipelineTask
        from pipecat.pipeline.task import PipelineParams

    options: dict[str, Any] = {}
    if "start_timeout" in inspect.signature(run_test).parameters:
        options["start_timeout"] = start_timeout
    down, up = await run_test(
        service,
        frames_to_send=list(frames),
        pipeline_params=PipelineParams(enable_metrics=metrics),
        send_end_frame=send_end_frame,
        **options,
    )
    return list(down), list(up)


def pause(seconds: float) -> Any:
    """A frame that makes :func:`run_service` wait before sending the next one."""
    from pipecat.tests.utils import SleepFrame

    return SleepFrame(sleep=seconds)


def image_frames(frames: Sequence[Any]) -> list[Any]:
    """The ``URLImageRawFrame`` s among ``frames``, in order."""
    from pipecat.frames.frames import URLImageRawFrame

    return [frame for frame in frames if isinstance(frame, URLImageRawFrame)]


def error_frames(frames: Sequence[Any]) -> list[Any]:
    """The ``ErrorFrame`` s among ``frames``, in order."""
    from pipecat.frames.frames import ErrorFrame

    return [frame for frame in frames if isinstance(frame, ErrorFrame)]
