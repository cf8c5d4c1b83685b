"""An error leaving a backend carries no credential: not in its chain, nor in any frame's locals.

Scrubbing the message is not enough. Error trackers and debuggers walk
``__cause__`` and ``__context__`` and show every traceback frame's local
variables, and the frames that built a request or read a reply that echoed
the token hold it. These tests plant a canary where a proxy that echoes
headers would put it and walk everything such a tool walks.
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from pipecat.frames.frames import TextFrame
from pydantic import Field, SecretStr

from imagegen_core import BackendSettings, ErrorKind, ImageBackend, ImageGenError, ImageRequest
from imagegen_core.pipecat import BackendImageGenService
from imagegen_testing.conformance.checks import secrets_in_error
from imagegen_testing.pipecat_run import error_frames, run_service

CANARY = "canary-token-0123456789abcdef"


class EchoSettings(BackendSettings):
    api_key: SecretStr = Field(default=SecretStr(CANARY))
    mode: str = "cause"


class EchoingBackend(ImageBackend[EchoSettings]):
    """Fails the way a backend behind a proxy that echoes the request headers does."""

    name: ClassVar[str] = "echoing"
    settings_model: ClassVar[type[BackendSettings]] = EchoSettings

    @property
    def capabilities(self) -> Any:
        from imagegen_core import Capabilities

        return Capabilities()

    async def _generate(self, request: ImageRequest) -> AsyncIterator[Any]:
        token = self.settings.api_key.get_secret_value()
        headers = {"Authorization": f"Bearer {token}"}
        reply = f"502 from proxy; your request had Authorization: Bearer {token}"
        mode = self.settings.mode
        if mode == "stray":
            raise RuntimeError(reply)
        try:
            raise ValueError(reply if mode != "clean cause" else "upstream said no")
        except ValueError as exc:
            message = f"the provider failed: {reply}"
            if mode == "context":
                raise ImageGenError(message, kind=ErrorKind.SERVER) from None
            raise ImageGenError(message, kind=ErrorKind.SERVER, backend="echoing") from exc
        yield headers  # pragma: no cover - never reached; makes this an async generator


MODES = ["cause", "context", "stray", "clean cause"]


async def failure_of(backend: ImageBackend[Any]) -> ImageGenError:
    with pytest.raises(ImageGenError) as caught:
        await backend.generate(ImageRequest(prompt="x")).collect()
    return caught.value


@pytest.mark.parametrize("mode", MODES)
async def test_a_generation_error_holds_no_secret_anywhere(mode: str) -> None:
    error = await failure_of(EchoingBackend({"mode": mode}))
    assert CANARY not in str(error)
    assert secrets_in_error(error, [CANARY]) == []
    # The backend's frames are still in the traceback (only their locals went).
    rendered = "".join(traceback.format_exception(error))
    assert "in _generate" in rendered


async def test_a_cause_that_shows_no_secret_is_kept() -> None:
    error = await failure_of(EchoingBackend({"mode": "clean cause"}))
    assert isinstance(error.__cause__, ValueError)
    assert str(error.__cause__) == "upstream said no"


@pytest.mark.parametrize("mode", MODES)
async def test_the_error_frames_exception_holds_no_secret(mode: str) -> None:
    service = BackendImageGenService(backend=EchoingBackend({"mode": mode}))
    _, up = await run_service(service, [TextFrame("x")])
    [frame] = error_frames(up)
    assert CANARY not in frame.error
    assert frame.exception is not None
    assert secrets_in_error(frame.exception, [CANARY]) == []


def test_a_refused_backend_settings_token_is_in_no_frame_of_the_constructor() -> None:
    with pytest.raises(ImageGenError) as caught:
        BackendImageGenService(backend="fake", backend_settings={"api_key": CANARY, "pixels": 1})
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "pixels" in caught.value.message
    assert secrets_in_error(caught.value, [CANARY]) == []
    rendered = "".join(
        traceback.TracebackException.from_exception(caught.value, capture_locals=True).format()
    )
    assert CANARY not in rendered


def test_detaching_without_secrets_changes_nothing() -> None:
    from imagegen_core._redaction import detach_secrets

    try:
        try:
            raise ValueError("inner")
        except ValueError:
            raise ImageGenError("outer") from None
    except ImageGenError as error:
        caught = error
    context = caught.__context__
    assert detach_secrets(caught, []) is caught
    assert caught.__context__ is context
