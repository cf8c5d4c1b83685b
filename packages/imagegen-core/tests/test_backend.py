"""ImageBackend and Generation: the behaviour every backend inherits from the core."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Iterable
from typing import Any, ClassVar

import aiohttp
import pytest
from pydantic import Field, SecretStr

from imagegen_core import (
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    GenerationWarning,
    ImageBackend,
    ImageGenError,
    ImageRequest,
)
from imagegen_core._redaction import REDACTED
from imagegen_testing.fake import FakeBackend

SECRET = "sk-live-0123456789abcdef"
NO_CAPABILITIES = Capabilities()

Step = GeneratedImage | GenerationWarning | BaseException


class ScriptSettings(BackendSettings):
    token: SecretStr = SecretStr(SECRET)
    steps: int = Field(default=4, ge=1)
    label: str = "plain"


class Scripted(ImageBackend[ScriptSettings]):
    """Yields (or raises) the given steps in order; records what the core did with it."""

    name: ClassVar[str] = "scripted"
    settings_model: ClassVar[type[BackendSettings]] = ScriptSettings

    def __init__(
        self,
        settings: ScriptSettings | dict[str, Any] | None = None,
        *,
        script: Iterable[Step] = (),
        capabilities: Capabilities = NO_CAPABILITIES,
    ) -> None:
        super().__init__(settings)
        self.script = list(script)
        self._capabilities = capabilities
        self.started = False
        self.finalised = False
        self.closes = 0

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def _generate(
        self, request: ImageRequest
    ) -> AsyncIterator[GeneratedImage | GenerationWarning]:
        self.started = True
        try:
            for step in self.script:
                if isinstance(step, BaseException):
                    raise step
                yield step
        finally:
            self.finalised = True

    async def _aclose(self) -> None:
        self.closes += 1


def image(index: int = 0) -> GeneratedImage:
    return GeneratedImage(data=b"img%d" % index, media_type="image/png", index=index)


REQUEST = ImageRequest(prompt="p")


# -- generating ----------------------------------------------------------------------


async def test_images_arrive_in_order_and_warnings_are_collected() -> None:
    fell_short = GenerationWarning("1 of 3 images missing")
    backend = Scripted(
        script=[image(0), fell_short, image(1)], capabilities=Capabilities(max_images_per_call=3)
    )

    generation = backend.generate(ImageRequest(prompt="p", seed=5, num_images=3))
    images = await generation.collect()

    assert [i.index for i in images] == [0, 1]
    assert [w.setting for w in generation.warnings] == ["seed", None]
    assert generation.warnings[1] is fell_short
    assert backend.finalised


async def test_images_beyond_what_was_asked_are_dropped_with_one_warning() -> None:
    # A provider reply listing 300 outputs for one image asked.
    backend = Scripted(script=[image(index) for index in range(300)])

    generation = backend.generate(ImageRequest(prompt="p"))
    images = await generation.collect()

    assert [i.index for i in images] == [0]
    [warning] = generation.warnings
    assert warning.message == (
        "the backend returned more than the 1 image asked for; the extra ones were dropped"
    )
    assert backend.finalised


async def test_strict_mode_rejects_unsupported_setting_before_starting() -> None:
    backend = Scripted(script=[image()])

    with pytest.raises(ImageGenError) as caught:
        backend.generate(ImageRequest(prompt="p", negative_prompt="blur"), strict=True)

    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "strict mode" in caught.value.message
    assert "negative_prompt" in caught.value.message
    assert not backend.started


async def test_strict_mode_turns_a_backend_warning_into_an_error_and_stops() -> None:
    backend = Scripted(script=[image(0), GenerationWarning("dropped one"), image(1)])
    generation = backend.generate(REQUEST, strict=True)

    assert (await anext(generation)).index == 0
    with pytest.raises(ImageGenError, match="strict mode: other: dropped one"):
        await anext(generation)

    assert backend.finalised
    with pytest.raises(StopAsyncIteration):
        await anext(generation)


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (RuntimeError(f"boom with {SECRET}"), ErrorKind.UNKNOWN),
        (TimeoutError(), ErrorKind.TIMEOUT),
        (ConnectionResetError("reset by peer"), ErrorKind.CONNECTIVITY),
        (asyncio.IncompleteReadError(b"", 10), ErrorKind.CONNECTIVITY),
        (aiohttp.ServerDisconnectedError(), ErrorKind.CONNECTIVITY),
        (KeyError("output"), ErrorKind.UNKNOWN),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
async def test_stray_exceptions_become_image_gen_errors(
    raised: BaseException, kind: ErrorKind
) -> None:
    backend = Scripted(script=[raised])

    with pytest.raises(ImageGenError) as caught:
        await backend.generate(REQUEST).collect()

    error = caught.value
    assert error.kind is kind
    assert error.retryable is kind.retryable_by_default
    assert error.backend == "scripted"
    assert error.message.startswith(type(raised).__name__)
    assert error.__cause__ is None
    assert SECRET not in f"{error} {error!r}"
    assert backend.finalised


async def test_secret_in_stray_exception_is_redacted() -> None:
    backend = Scripted(script=[RuntimeError(f"request with {SECRET} failed")])

    with pytest.raises(ImageGenError) as caught:
        await backend.generate(REQUEST).collect()

    assert caught.value.message == f"RuntimeError: request with {REDACTED} failed"


class Eager(Scripted):
    """A ``_generate`` that is a plain method: it fails when called, before any iterator exists."""

    def _generate(  # type: ignore[override]
        self, request: ImageRequest
    ) -> AsyncIterator[GeneratedImage | GenerationWarning]:
        step = self.script[0]
        assert isinstance(step, BaseException)
        raise step


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (
            ImageGenError(f"no access with {SECRET}", kind=ErrorKind.AUTHENTICATION),
            "authentication",
        ),
        (RuntimeError(f"request with {SECRET} failed"), "unknown"),
    ],
    ids=["ImageGenError", "RuntimeError"],
)
async def test_a_generate_that_fails_when_called_fails_like_one_that_fails_later(
    raised: BaseException, kind: str
) -> None:
    backend = Eager(script=[raised])
    generation = backend.generate(REQUEST)

    with pytest.raises(ImageGenError) as caught:
        await anext(generation)

    error = caught.value
    assert error.kind is ErrorKind(kind)
    assert error.backend == "scripted"
    assert SECRET not in f"{error} {error!r}"
    assert REDACTED in error.message
    with pytest.raises(StopAsyncIteration):  # finished: it is not called again
        await anext(generation)


async def test_backend_errors_are_scrubbed_and_keep_their_details() -> None:
    raised = ImageGenError(
        f"bad token {SECRET}", kind=ErrorKind.RATE_LIMIT, retry_after=2.5, status=429
    )
    backend = Scripted(script=[image(), raised])
    generation = backend.generate(REQUEST)

    await anext(generation)
    with pytest.raises(ImageGenError) as caught:
        await anext(generation)

    error = caught.value
    assert error.message == f"bad token {REDACTED}"
    assert (error.kind, error.retry_after, error.status, error.retryable) == (
        ErrorKind.RATE_LIMIT,
        2.5,
        429,
        True,
    )
    assert error.backend == "scripted"


async def test_clean_backend_error_gets_the_backend_name() -> None:
    backend = Scripted(script=[ImageGenError("nope", kind=ErrorKind.CONTENT_POLICY)])

    with pytest.raises(ImageGenError) as caught:
        await backend.generate(REQUEST).collect()

    assert caught.value.backend == "scripted"
    assert caught.value.kind is ErrorKind.CONTENT_POLICY


@pytest.mark.parametrize(
    "raised",
    [ImageGenError("nope"), ImageGenError(f"bad token {SECRET}", backend="scripted")],
    ids=["name filled in", "message scrubbed"],
)
async def test_a_copied_backend_error_keeps_the_backends_frames(raised: ImageGenError) -> None:
    backend = Scripted(script=[raised])

    with pytest.raises(ImageGenError) as caught:
        await backend.generate(REQUEST).collect()

    assert caught.value is not raised  # a copy, with the name or the scrubbed message
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "_generate" in frames  # Scripted._generate, where it was raised


async def test_cancellation_is_not_wrapped() -> None:
    backend = Scripted(script=[asyncio.CancelledError()])

    with pytest.raises(asyncio.CancelledError):
        await backend.generate(REQUEST).collect()


async def test_stopping_early_lets_the_backend_clean_up() -> None:
    backend = Scripted(script=[image(0), image(1), image(2)])
    generation = backend.generate(REQUEST)

    await anext(generation)
    await generation.aclose()

    assert backend.finalised
    with pytest.raises(StopAsyncIteration):
        await anext(generation)


async def test_cancelling_the_task_cancels_the_fake_remote_job() -> None:
    backend = FakeBackend({"latency": 30})
    task = asyncio.create_task(backend.generate(REQUEST).collect())
    while backend.jobs_started == 0:  # noqa: ASYNC110 - the fake has counters, not events
        await asyncio.sleep(0.001)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)

    assert backend.jobs_cancelled == 1
    assert backend.jobs_running == 0


# -- closing ---------------------------------------------------------------------------


async def test_aclose_is_idempotent_and_refuses_new_work() -> None:
    backend = Scripted(script=[image()])

    await backend.aclose()
    await backend.aclose()

    assert backend.closed
    assert backend.closes == 1
    with pytest.raises(ImageGenError, match="closed") as caught:
        backend.generate(REQUEST)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST


async def test_async_with_closes() -> None:
    async with Scripted() as backend:
        assert not backend.closed

    assert backend.closed
    assert backend.closes == 1


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": "many"}, "steps"),
        ({"label": ["not", "text"]}, "label"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_settings_fail_at_construction(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(ImageGenError) as caught:
        Scripted(settings)

    error = caught.value
    assert error.kind is ErrorKind.INVALID_REQUEST
    assert error.backend == "scripted"
    assert f"{field}:" in error.message


class OtherBackendSettings(BackendSettings):
    steps: int = 4


@pytest.mark.parametrize(
    "settings",
    [OtherBackendSettings(), "steps=4", 4, [("steps", 4)]],
    ids=["another-backends-model", "text", "number", "pairs"],
)
def test_settings_of_the_wrong_type_fail_at_construction(settings: Any) -> None:
    # Even a model with the same field names: settings are not matched by shape.
    with pytest.raises(ImageGenError) as caught:
        Scripted(settings)

    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "instance of ScriptSettings" in caught.value.message


def test_settings_errors_never_quote_the_input() -> None:
    with pytest.raises(ImageGenError) as caught:
        Scripted({"token": SECRET, "steps": SECRET})

    assert SECRET not in f"{caught.value} {caught.value!r}"


def test_settings_accept_the_model_or_a_mapping() -> None:
    assert Scripted(ScriptSettings(steps=7)).settings.steps == 7
    assert Scripted({"steps": "8"}).settings.steps == 8


def test_update_settings_reports_changes_and_keeps_old_on_error() -> None:
    backend = Scripted()

    assert backend.update_settings(steps=9, label="plain") == {"steps": 9}
    assert backend.update_settings(steps=9) == {}
    with pytest.raises(ImageGenError, match="steps"):
        backend.update_settings(steps=-1, label="new")

    assert backend.settings.steps == 9
    assert backend.settings.label == "plain"


def test_settings_schema_describes_the_fields() -> None:
    schema = Scripted.settings_schema()

    assert set(schema["properties"]) == {"token", "steps", "label"}
    assert schema["properties"]["steps"]["minimum"] == 1
    assert schema["additionalProperties"] is False


def test_secrets_are_known_and_hidden_from_repr() -> None:
    backend = Scripted()

    assert list(backend.secret_values()) == [SECRET]
    assert SECRET not in repr(backend)
    assert SECRET not in repr(backend.settings)


def test_repr_of_a_backend_whose_constructor_raised_does_not_raise() -> None:
    # Such a backend is still in the traceback's frame locals (``self``), and
    # traceback's capture_locals, debuggers and error trackers repr it.
    class Refusing(Scripted):
        def __init__(self) -> None:
            raise ImageGenError("refused", kind=ErrorKind.INVALID_REQUEST)

    with pytest.raises(ImageGenError) as caught:
        Refusing()
    rendered = "".join(
        traceback.TracebackException.from_exception(caught.value, capture_locals=True).format()
    )

    assert "Refusing(name='scripted', settings=not set)" in rendered


async def test_a_cause_that_would_reveal_a_secret_is_dropped() -> None:
    def failure(cause_text: str) -> ImageGenError:
        try:
            raise RuntimeError(cause_text)
        except RuntimeError as cause:
            error = ImageGenError("upstream failed", kind=ErrorKind.SERVER)
            error.__cause__ = cause
            return error

    leaky = Scripted(script=[failure(f"header Authorization: {SECRET}")])
    with pytest.raises(ImageGenError) as caught:
        await leaky.generate(REQUEST).collect()
    assert caught.value.__cause__ is None

    harmless = Scripted(script=[failure("connection closed")])
    with pytest.raises(ImageGenError) as caught:
        await harmless.generate(REQUEST).collect()
    assert str(caught.value.__cause__) == "connection closed"


async def test_unreported_warnings_hands_each_warning_out_once() -> None:
    backend = Scripted(script=[GenerationWarning("first"), image(0), GenerationWarning("second")])
    generation = backend.generate(REQUEST)

    assert generation.unreported_warnings() == []
    await anext(generation)
    assert [w.message for w in generation.unreported_warnings()] == ["first"]
    assert generation.unreported_warnings() == []
    with pytest.raises(StopAsyncIteration):
        await anext(generation)
    assert [w.message for w in generation.unreported_warnings()] == ["second"]
    assert [w.message for w in generation.warnings] == ["first", "second"]
