"""The Pipecat version shims, on whichever Pipecat is installed."""

from __future__ import annotations

import dataclasses
from typing import Any

from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.settings import ImageGenSettings

from imagegen_core import ErrorKind, ImageGenError
from imagegen_core.pipecat import _compat as compat
from imagegen_core.pipecat._failover import failure_policy
from imagegen_core.pipecat._settings import (
    BackendImageGenSettings,
    coerce_delta,
    fill_unset,
)


class Recorder(FrameProcessor):
    """Records what push_error is called with instead of pushing anything."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def push_error(self, error_msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.calls.append((error_msg, kwargs))


async def test_push_error_passes_what_the_installed_pipecat_understands() -> None:
    processor = Recorder()
    error = ImageGenError("down", kind=ErrorKind.SERVER)
    await compat.push_error(processor, "down", exception=error, policy=failure_policy(error))
    [(message, kwargs)] = processor.calls
    assert message == "down"
    assert kwargs["exception"] is error
    if compat.HAS_ERROR_CATEGORIES:
        from pipecat.utils.errors import ErrorCategory

        assert kwargs["category"] is ErrorCategory.SERVER
        assert kwargs["force_treat_as_permanent"] is True
    else:
        assert set(kwargs) == {"exception"}


async def test_a_passing_error_is_pushed_without_forcing_permanence() -> None:
    processor = Recorder()
    error = ImageGenError("refused", kind=ErrorKind.CONTENT_POLICY)
    await compat.push_error(processor, "refused", exception=error, policy=failure_policy(error))
    [(_, kwargs)] = processor.calls
    assert "force_treat_as_permanent" not in kwargs


async def test_mark_usable_restores_a_processor_that_was_written_off() -> None:
    processor = FrameProcessor()
    await compat.mark_usable(processor)  # a no-op where Pipecat has no usability
    if compat.HAS_USABILITY:
        await processor.set_usable(False)
        await compat.mark_usable(processor)
        assert processor.is_usable


def test_given_reads_not_given_as_none() -> None:
    assert compat.given(compat.NOT_GIVEN) is None
    assert compat.given(0) == 0
    assert isinstance(compat.NOT_GIVEN, compat.NotGivenType)
    assert not compat.is_given(compat.NOT_GIVEN)


def test_settings_deltas_are_sparse_and_stores_complete() -> None:
    delta = BackendImageGenSettings(num_images=2)
    assert delta.given_fields() == {"num_images": 2}
    store = fill_unset(BackendImageGenSettings())
    assert all(value is None for value in store.given_fields().values())


def test_foreign_deltas_are_read_by_name_and_alias() -> None:
    @dataclasses.dataclass
    class SeedSettings(ImageGenSettings):
        num_outputs: Any = dataclasses.field(default_factory=lambda: compat.NOT_GIVEN)
        _aliases = {"num_images": "num_outputs"}

    delta = BackendImageGenSettings(model="m", num_images=3, size="64x64")
    delta.extra = {"steps": 4}
    coerced = coerce_delta(delta, SeedSettings)
    assert isinstance(coerced, SeedSettings)
    assert coerced.model == "m"
    assert coerced.num_outputs == 3
    assert coerced.extra == {"steps": 4}  # "size" is unknown to it: dropped, not smuggled in
    same = BackendImageGenSettings(seed=1)
    assert coerce_delta(same, BackendImageGenSettings) is same
