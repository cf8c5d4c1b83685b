"""Building and running a pipeline task the same way on every supported Pipecat.

Pipecat 1.3 renamed the pipeline's driver: ``PipelineTask`` became
``PipelineWorker`` (in ``pipecat.pipeline.worker``) and ``PipelineRunner``
became ``WorkerRunner`` (in ``pipecat.workers.runner``), which wants workers
registered with ``add_workers()`` before ``run()``. The old names still work
there but warn, and 0.0.108 has only the old ones. An app written for one
Pipecat release just uses that release's names; these two helpers are for code
that must run on all of them (imagegen's examples, a library's own demos), so
nobody has to copy the version checks.

Like the rest of :mod:`imagegen_core.pipecat`, this bridges by feature
detection, never by version number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipecat.pipeline.base_pipeline import BasePipeline
    from pipecat.pipeline.worker import PipelineParams
    from pipecat.pipeline.worker import PipelineWorker as PipelineTask

__all__ = ["pipeline_task", "run_pipeline_task"]

# The classes are imported when first used, not with this module: on Pipecat
# 0.0.108 importing ``pipecat.pipeline.task`` makes sure NLTK data is present
# (downloading it if not), which merely importing the service must not do.


def pipeline_task(
    pipeline: BasePipeline,
    *,
    params: PipelineParams | Mapping[str, Any] | None = None,
    **options: Any,
) -> PipelineTask:
    """A task (Pipecat 1.3+: a worker) that runs ``pipeline``.

    Args:
        pipeline: The pipeline to run.
        params: ``PipelineParams``, or a mapping of its fields (say
            ``{"enable_metrics": True}``), so the caller need not know where
            the installed Pipecat keeps the class.
        **options: Passed to the task unchanged (``idle_timeout_secs``,
            ``enable_rtvi``, ``observers``, ...); they are the same on every
            supported release.
    """
    try:  # Pipecat 1.3 and later
        from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    except ImportError:  # Pipecat 0.0.108
        from pipecat.pipeline.task import PipelineParams
        from pipecat.pipeline.task import PipelineTask as PipelineWorker

    if isinstance(params, Mapping):
        params = PipelineParams(**params)
    return PipelineWorker(pipeline, params=params, **options)


async def run_pipeline_task(task: PipelineTask, *, handle_sigint: bool = False) -> None:
    """Run ``task`` until its pipeline ends (an ``EndFrame``, a cancel, or an idle timeout).

    Args:
        task: A task from :func:`pipeline_task` (or one built by hand).
        handle_sigint: Let the runner answer Ctrl-C (SIGINT) by cancelling the
            task, as a long-running bot wants. Off by default, which suits
            scripts and tests (Pipecat's own default is on).
    """
    try:  # Pipecat 1.3 and later
        from pipecat.workers.runner import WorkerRunner
    except ImportError:  # Pipecat 0.0.108
        from pipecat.pipeline.runner import PipelineRunner as WorkerRunner

    runner = WorkerRunner(handle_sigint=handle_sigint)
    if hasattr(runner, "add_workers"):  # 1.3+: register the worker, then run
        await runner.add_workers(task)
        await runner.run()
    else:
        await runner.run(task)
