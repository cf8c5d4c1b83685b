"""Progress reports: validated, never counted as images, skipped by image-only consumers."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
from pydantic import SecretStr

from imagegen_core import (
    MAX_PROGRESS_MESSAGE_LENGTH,
    BackendItem,
    BackendSettings,
    Capabilities,
    GeneratedImage,
    GenerationProgress,
    GenerationWarning,
    ImageBackend,
    ImageRequest,
)

SECRET = "sk-progress-secret-0123456789"


class Settings(BackendSettings):
    token: SecretStr = SecretStr(SECRET)


class Reporting(ImageBackend[Settings]):
    """Yields a fixed script of images, warnings and progress reports."""

    name: ClassVar[str] = "reporting"
    settings_model: ClassVar[type[BackendSettings]] = Settings

    def __init__(self, script: list[BackendItem]) -> None:
        super().__init__()
        self.script = script
        self.finalised = False

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_images_per_call=4)

    async def _generate(self, request: ImageRequest) -> AsyncIterator[BackendItem]:
        try:
            for item in self.script:
                await asyncio.sleep(0)
                yield item
        finally:
            self.finalised = True


def image(index: int) -> GeneratedImage:
    return GeneratedImage(data=b"img%d" % index, index=index)


PREVIEW = GeneratedImage(data=b"preview", index=0, metadata={"step": 1})
SCRIPT: list[BackendItem] = [
    GenerationProgress(queue_position=1, message="queued"),
    GenerationProgress(fraction=0.25, preview=PREVIEW),
    image(0),
    GenerationWarning("one image short"),
    GenerationProgress(fraction=0.75, message="step 3/4"),
    image(1),
]
REQUEST = ImageRequest(prompt="p", num_images=2)


async def test_iterating_a_generation_yields_only_images() -> None:
    generation = Reporting(SCRIPT).generate(REQUEST)

    images = await generation.collect()

    assert images == [image(0), image(1)]
    assert generation.progress == GenerationProgress(fraction=0.75, message="step 3/4")
    assert [w.message for w in generation.warnings] == ["one image short"]


async def test_events_yield_images_and_progress_in_backend_order() -> None:
    generation = Reporting(SCRIPT).generate(REQUEST)

    events = [event async for event in generation.events()]

    assert events == [item for item in SCRIPT if not isinstance(item, GenerationWarning)]
    previews = [e.preview for e in events if isinstance(e, GenerationProgress) and e.preview]
    assert previews == [PREVIEW]
    assert [e for e in events if isinstance(e, GeneratedImage)] == [image(0), image(1)]
    assert len(generation.warnings) == 1


async def test_closing_the_events_iterator_stops_the_backend() -> None:
    backend = Reporting(SCRIPT)
    events = backend.generate(REQUEST).events()

    assert isinstance(await anext(events), GenerationProgress)
    await events.aclose()  # type: ignore[attr-defined]

    assert backend.finalised
    with pytest.raises(StopAsyncIteration):
        await anext(events)


async def test_a_backend_that_reports_nothing_has_no_progress() -> None:
    generation = Reporting([image(0)]).generate(ImageRequest(prompt="p"))

    assert [e async for e in generation.events()] == [image(0)]
    assert generation.progress is None


async def test_progress_messages_are_scrubbed_of_credentials() -> None:
    leaky = GenerationProgress(message=f"loading with token {SECRET}")
    generation = Reporting([leaky, image(0)]).generate(ImageRequest(prompt="p"))

    events = [e async for e in generation.events()]

    report = events[0]
    assert isinstance(report, GenerationProgress)
    assert report.message is not None
    assert SECRET not in report.message
    assert "loading with token" in report.message


@pytest.mark.parametrize("fraction", [-0.01, 1.01, math.nan, math.inf])
def test_fraction_outside_zero_to_one_is_a_backend_bug(fraction: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        GenerationProgress(fraction=fraction)


def test_fraction_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="must be a number"):
        GenerationProgress(fraction=True)
    with pytest.raises(ValueError, match="must be a number"):
        GenerationProgress(fraction="40%")  # type: ignore[arg-type]


@pytest.mark.parametrize("position", [-1, True, 1.5])
def test_queue_position_is_a_whole_number_from_zero(position: object) -> None:
    with pytest.raises(ValueError, match="queue_position"):
        GenerationProgress(queue_position=position)  # type: ignore[arg-type]


def test_messages_become_one_short_printable_line() -> None:
    tqdm = GenerationProgress(message="\r 40%|\x1b[32m####\x1b[0m      | 12/28 [00:03<00:04]\n")
    long = GenerationProgress(message="x" * 500)

    assert tqdm.message == "40%| [32m#### [0m | 12/28 [00:03<00:04]"
    assert long.message is not None
    assert len(long.message) == MAX_PROGRESS_MESSAGE_LENGTH
    assert long.message.endswith("\u2026")
    assert GenerationProgress(message=" \n ").message is None


def test_describe_for_captions() -> None:
    assert GenerationProgress(fraction=0.4, message="step 12/28").describe() == "40% - step 12/28"
    assert GenerationProgress(queue_position=2).describe() == "queued (2 ahead)"
    assert GenerationProgress(preview=PREVIEW).describe() == "preview"
    assert GenerationProgress().describe() == "working"
    assert GenerationProgress(fraction=1).percent == 100
    assert GenerationProgress(fraction=0.999).percent == 99
