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


def test_given_settings_holds_what_given_would_read_as_set() -> None:
    settings = BackendImageGenSettings(
        num_images=0, seed=None, output_format="png", extra={"steps": 4}
    )
    values = compat.given_settings(settings)
    # Exactly the fields given() reads as set (0 and {} included), in field order.
    expected = {
        item.name: getattr(settings, item.name)
        for item in dataclasses.fields(settings)
        if compat.given(getattr(settings, item.name)) is not None
    }
    assert values == expected
    assert list(values) == list(expected)
    assert values["num_images"] == 0
    assert "seed" not in values
    assert "size" not in values
    assert values["extra"] == {"steps": 4}


def test_given_settings_reads_dataclasses_without_an_instance_dict() -> None:
    @dataclasses.dataclass(slots=True)
    class Slotted:
        steps: Any = compat.NOT_GIVEN
        seed: Any = None
        style: Any = "noir"

    @dataclasses.dataclass
    class WithClassField:
        steps: Any = 4
        later: Any = dataclasses.field(init=False)  # never set on the instance

    assert compat.given_settings(Slotted(steps=2)) == {"steps": 2, "style": "noir"}
    assert compat.given_settings(Slotted()) == {"style": "noir"}
    partial = WithClassField()
    assert "later" not in vars(partial)
    WithClassField.later = "class-level"
    assert compat.given_settings(partial) == {"steps": 4, "later": "class-level"}


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
