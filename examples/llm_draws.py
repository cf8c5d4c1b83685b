"""An LLM that decides to draw, through function calling.

    uv run examples/llm_draws.py

The LLM is offered one tool, ``draw_image(prompt)``. When it calls the tool,
the handler pushes the prompt to the image service, waits for the image (or
the error), and tells the LLM what happened through the result callback, so
the model can say "here it is" or "that did not work" in its next turn.

Three things a bot has to get right, which this example shows:

1. **The tool**: a ``FunctionSchema`` in the context's ``ToolsSchema``, and a
   handler registered with ``llm.register_function``. The handler takes one
   ``FunctionCallParams``. ``FunctionSchema`` and ``ToolsSchema`` come from
   ``imagegen_core.pipecat``, which finds them where the installed Pipecat
   keeps them (1.14 moved them to ``pipecat.adapters.llm.schemas``).
2. **Only the tool's prompts reach the image service.** The service draws
   every ``TextFrame`` it receives, and the LLM's own words are ``TextFrame``
   subclasses (``LLMTextFrame``, and ``TTSTextFrame`` after a TTS): placed
   after the LLM as it is, it would draw the bot's sentences. The prompt
   travels as a frame type of its own (:class:`DrawPrompt`) into a branch of
   a ``ParallelPipeline`` that lets only that type through; the other branch
   (where a TTS would go) drops it.
3. **The result says what happened**: the image's size, or the error's
   message, so the LLM never claims a picture that failed.

The LLM here is a stand-in (:class:`ScriptedLLM`, a Pipecat ``LLMService``
subclass that "decides" to call the tool for every user turn) so the example
reaches no LLM API; a real bot uses ``OpenAILLMService`` or any other with
the same tool and handler. Images come from the fake backend.

Exit status 0 when the first image arrived and the LLM was told its size,
and the LLM was told why a prompt the service refused drew nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import (
    Frame,
    FunctionCallFromLLM,
    FunctionCallResultFrame,
    TextFrame,
    TranscriptionFrame,
)
from pipecat.pipeline.parallel_pipeline import ParallelPipeline
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.filters.function_filter import FunctionFilter
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallParams, LLMService
from pipecat.services.settings import LLMSettings

from _example_kit import ErrorWatcher, FrameCollector, ImageSink, check, quiet_logs, run_script
from imagegen_core.pipecat import (
    BackendImageGenService,
    FunctionSchema,
    ToolsSchema,
    pipeline_task,
)

DRAW_IMAGE = FunctionSchema(
    name="draw_image",
    description="Draw a picture for the user and show it on their screen.",
    properties={"prompt": {"type": "string", "description": "What the picture shows."}},
    required=["prompt"],
)
TOOLS = ToolsSchema(standard_tools=[DRAW_IMAGE])
DRAW_TIMEOUT = 10.0
"""Seconds the handler waits for the image before telling the LLM it did not come."""


@dataclass
class DrawPrompt(TextFrame):
    """A prompt from the ``draw_image`` tool: the only text the image branch lets through."""


async def is_draw_prompt(frame: Frame) -> bool:
    """The image branch's filter: draw prompts and every non-text frame pass."""
    return not isinstance(frame, TextFrame) or isinstance(frame, DrawPrompt)


async def is_not_draw_prompt(frame: Frame) -> bool:
    """The speech branch's filter: everything but draw prompts (a TTS would speak them)."""
    return not isinstance(frame, DrawPrompt)


class ScriptedLLM(LLMService):
    """Stands in for a real LLM: every user transcription becomes a ``draw_image`` call.

    A real LLM service reads the context, sends it to its API and, when the
    reply asks for a tool, calls ``run_function_calls`` exactly like this.
    """

    def __init__(self, **kwargs: Any) -> None:
        # No model, no sampling: every setting is None ("not supported"). The
        # fields differ between Pipecat releases, so they are not named.
        unset: dict[str, Any] = {
            f.name: None for f in dataclasses.fields(LLMSettings) if f.name != "extra"
        }
        super().__init__(settings=LLMSettings(**unset), **kwargs)
        self.context = LLMContext(tools=TOOLS)
        self._call_ids = itertools.count(1)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self.context.add_message({"role": "user", "content": frame.text})
            call = FunctionCallFromLLM(
                function_name=DRAW_IMAGE.name,
                tool_call_id=f"call_{next(self._call_ids)}",
                arguments={"prompt": frame.text},
                context=self.context,
            )
            await self.run_function_calls([call])
            return
        await self.push_frame(frame, direction)


def draw_image_handler(images: ImageSink, errors: ErrorWatcher) -> Any:
    """The tool's handler: push the prompt, wait for what the image branch reports, tell the LLM."""

    async def draw_image(params: FunctionCallParams) -> None:
        prompt = str(params.arguments["prompt"])
        images_before, errors_before = len(images.images), len(errors.errors)
        await params.llm.push_frame(DrawPrompt(prompt))
        image = asyncio.ensure_future(images.wait_for(images_before + 1))
        error = asyncio.ensure_future(errors.wait_for(errors_before + 1))
        await asyncio.wait({image, error}, timeout=DRAW_TIMEOUT, return_when="FIRST_COMPLETED")
        for waiter in (image, error):
            waiter.cancel()
        if len(errors.errors) > errors_before:
            await params.result_callback({"drawn": False, "error": errors.errors[-1].error})
            return
        if len(images.images) == images_before:
            await params.result_callback({"drawn": False, "error": "the image did not arrive"})
            return
        width, height = images.images[-1].size
        await params.result_callback(
            {"drawn": True, "prompt": prompt, "size": f"{width}x{height}", "shown_to_user": True}
        )

    return draw_image


async def main() -> int:
    llm = ScriptedLLM()
    image_gen = BackendImageGenService(
        backend="fake", settings=BackendImageGenService.Settings(aspect_ratio="4:3")
    )
    errors, images = ErrorWatcher(), ImageSink()
    # What the LLM is told: a context aggregator adds these results to the
    # context, and the LLM reads them in its next turn.
    told = FrameCollector(FunctionCallResultFrame)
    llm.register_function(DRAW_IMAGE.name, draw_image_handler(images, errors))
    pipeline = Pipeline(
        [
            llm,
            ParallelPipeline(  # type: ignore[no-untyped-call]
                [FunctionFilter(is_not_draw_prompt)],  # a TTS goes here
                [FunctionFilter(is_draw_prompt), errors, image_gen, images],
            ),
            told,
        ]
    )
    task = pipeline_task(pipeline, idle_timeout_secs=None)

    async def script() -> None:
        await task.queue_frame(TranscriptionFrame("a lighthouse at dawn", "user-1", ""))
        await told.wait_for(1)
        # A prompt the image service refuses (longer than any backend takes):
        # the LLM must hear that nothing was drawn.
        await task.queue_frame(TranscriptionFrame("a lighthouse " * 1000, "user-1", ""))
        await told.wait_for(2)

    await run_script(task, script)

    results = [frame.result for frame in told.collected]
    print(f"images: {len(images.images)}; the LLM was told:")
    for result in results:
        print(f"  {str(result)[:150]}")
    check(len(images.images) == 1, f"expected 1 image, got {len(images.images)}")
    check(len(results) == 2, f"expected two function-call results, got {results}")
    drawn, refused = results
    width, height = images.images[0].size
    check(
        drawn
        == {
            "drawn": True,
            "prompt": "a lighthouse at dawn",
            "size": f"{width}x{height}",
            "shown_to_user": True,
        },
        f"the LLM was told {drawn!r}",
    )
    check(
        refused["drawn"] is False and "prompt" in refused["error"],
        f"the refused prompt was reported as {refused!r}",
    )
    print("OK: the LLM called draw_image; it was told the image's size, then why one failed")
    return 0


if __name__ == "__main__":
    quiet_logs()
    raise SystemExit(asyncio.run(main()))
