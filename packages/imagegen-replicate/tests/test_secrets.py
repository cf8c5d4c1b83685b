"""The token never appears in logs, errors, reprs, tracebacks or os.environ."""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest
from pipecat.frames.frames import ErrorFrame, TextFrame

from imagegen_core import ImageGenError, ImageRequest
from imagegen_core.pipecat import BackendImageGenService
from imagegen_replicate import (
    TOKEN_ENV_VAR,
    ReplicateBackend,
    ReplicateImageGenService,
    ReplicateSettings,
)
from imagegen_testing.emulator import Fault, ReplicateEmulator, Route
from imagegen_testing.pipecat_run import run_service

from .conftest import FAST, answer_before_done

TOKEN = "r8_SecretNeverToLeak0123456789abcdef"


def rendered_with_locals(error: BaseException) -> str:
    """The traceback as a debugger, Sentry or ``capture_locals`` would show it: every
    frame's local variables included, and the chained causes and contexts."""
    return "".join(
        traceback.TracebackException(
            type(error), error, error.__traceback__, capture_locals=True
        ).format()
    )


async def _failure(settings: ReplicateSettings) -> ImageGenError:
    async with ReplicateBackend(settings) as backend:
        with pytest.raises(ImageGenError) as caught:
            await backend.generate(ImageRequest(prompt="x")).collect()
    return caught.value


async def test_token_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    token = "r8_SecretNeverToLeak0123456789abcdef"
    caplog.set_level(logging.DEBUG)
    env_before = dict(os.environ)
    async with ReplicateEmulator(api_token=token, min_cancel_after=0) as emulator:
        settings = ReplicateSettings(**FAST, api_token=token, base_url=emulator.base_url)
        answer_before_done(emulator, predict=0.05)
        emulator.script(Fault.rate_limited(retry_after=0.01))
        emulator.script(Fault.http_error(503, route=Route.PREDICTIONS_GET))
        texts: list[str] = []
        async with ReplicateBackend(settings) as backend:
            texts.append(repr(backend))
            texts.append(repr(backend.settings))
            [image] = await backend.generate(ImageRequest(prompt="x")).collect()
            texts.append(repr(image))
            emulator.script(Fault.failed_prediction("boom"))
            with pytest.raises(ImageGenError) as caught:
                await backend.generate(ImageRequest(prompt="x")).collect()
            texts += [str(caught.value), repr(caught.value)]
        wrong = ReplicateSettings(**FAST, api_token=token + "x", base_url=emulator.base_url)
        async with ReplicateBackend(wrong) as backend:
            with pytest.raises(ImageGenError) as caught:
                await backend.generate(ImageRequest(prompt="x")).collect()
            texts += [str(caught.value), repr(caught.value)]
    assert caplog.records, "the run should have logged its retries"
    texts.append(caplog.text)
    for text in texts:
        assert token not in text
    assert token not in os.environ.values()
    assert dict(os.environ) == env_before
    assert TOKEN_ENV_VAR not in os.environ


@pytest.mark.parametrize(
    "faults",
    [
        [Fault.failed_prediction("boom")],
        [Fault.http_error(422, detail="bad input")],
        [Fault.http_error(500, detail="internal")],
        [Fault.connection_reset(after_processing=True)],
        [Fault.http_error(503, route=Route.PREDICTIONS_GET)] * 3,
    ],
    ids=["failed", "422", "500 on create", "reset on create", "503s on poll"],
)
async def test_token_is_in_no_frame_of_an_errors_traceback(faults: Sequence[Fault]) -> None:
    # An ErrorFrame carries the exception; whatever renders its traceback with
    # local variables (an error tracker, a debugger) must not find the token.
    async with ReplicateEmulator(api_token=TOKEN, min_cancel_after=0) as emulator:
        answer_before_done(emulator, predict=0.05)
        for fault in faults:
            emulator.script(fault)
        settings = ReplicateSettings(
            **{**FAST, "max_attempts": 2}, api_token=TOKEN, base_url=emulator.base_url
        )
        error = await _failure(settings)
    text = rendered_with_locals(error)
    assert "Traceback" in text
    assert "_request" in text or "_follow" in text  # the backend's own frames are in it
    assert TOKEN not in text


async def test_token_from_the_environment_is_in_no_frame_either(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with ReplicateEmulator(api_token=TOKEN) as emulator:
        monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
        emulator.script(Fault.failed_prediction("boom"))
        error = await _failure(ReplicateSettings(**FAST, base_url=emulator.base_url))
    assert TOKEN not in rendered_with_locals(error)


async def test_error_frame_and_its_exception_hold_no_token() -> None:
    from pipecat.tests.utils import run_test

    async with ReplicateEmulator(api_token=TOKEN) as emulator, aiohttp.ClientSession() as session:
        emulator.script(Fault.http_error(422, detail="bad input"))
        service = ReplicateImageGenService(
            aiohttp_session=session, api_token=TOKEN, base_url=emulator.base_url
        )
        _, up = await run_test(service, frames_to_send=[TextFrame("x")])
    [frame] = [f for f in up if isinstance(f, ErrorFrame)]
    assert "bad input" in frame.error
    assert TOKEN not in frame.error
    assert frame.exception is not None
    assert TOKEN not in rendered_with_locals(frame.exception)


def test_construction_error_holds_no_token() -> None:
    settings: Any = ReplicateImageGenService.Settings(aspect_ratio="7:5")

    async def construct() -> None:
        async with aiohttp.ClientSession() as session:
            ReplicateImageGenService(aiohttp_session=session, api_token=TOKEN, settings=settings)

    import asyncio

    with pytest.raises(ImageGenError) as caught:
        asyncio.run(construct())
    assert TOKEN not in rendered_with_locals(caught.value)


async def test_retry_log_lines_are_scrubbed_of_an_echoed_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A proxy's error page that echoes the request headers back.
    caplog.set_level(logging.DEBUG, logger="imagegen")
    async with ReplicateEmulator(api_token=TOKEN, min_cancel_after=0) as emulator:
        answer_before_done(emulator, predict=0.05)
        echo = f"upstream failed; request had Authorization: Bearer {TOKEN}"
        emulator.script(Fault.http_error(503, detail=echo, route=Route.PREDICTIONS_GET))
        settings = ReplicateSettings(**FAST, api_token=TOKEN, base_url=emulator.base_url)
        async with ReplicateBackend(settings) as backend:
            [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert image.url is not None
    assert "upstream failed" in caplog.text  # the retry was logged, with its reason
    assert TOKEN not in caplog.text


ECHO = f"upstream failed; request had Authorization: Bearer {TOKEN}"


@pytest.mark.parametrize(
    "fault",
    [
        Fault.http_error(422, detail=ECHO),
        Fault.http_error(500, detail=ECHO),
        Fault.failed_prediction(ECHO),
    ],
    ids=["422 echo", "500 echo", "failed prediction echo"],
)
async def test_an_echoed_token_is_nowhere_in_the_error_frames_exception(fault: Fault) -> None:
    from imagegen_testing.conformance.checks import secrets_in_error

    async with ReplicateEmulator(api_token=TOKEN) as emulator, aiohttp.ClientSession() as session:
        emulator.script(fault)
        service = ReplicateImageGenService(
            aiohttp_session=session,
            api_token=TOKEN,
            base_url=emulator.base_url,
            backend_settings={"max_attempts": 1},
        )
        _, up = await run_service(service, [TextFrame("x")])
    [frame] = [f for f in up if isinstance(f, ErrorFrame)]
    assert "upstream failed" in frame.error
    assert TOKEN not in frame.error
    # What an error tracker walks: the chain (__cause__, __context__) and every frame's locals.
    assert secrets_in_error(frame.exception, [TOKEN]) == []


@pytest.mark.parametrize(
    "construct",
    [
        lambda session: ReplicateImageGenService(
            aiohttp_session=session, backend_settings={"api_token": TOKEN}
        ),
        lambda session: BackendImageGenService(
            backend="replicate", backend_settings={"api_token": TOKEN, "max_attempts": "x"}
        ),
    ],
    ids=["drop-in service", "generic service"],
)
async def test_a_refused_token_in_backend_settings_is_in_no_frame(construct: Any) -> None:
    from imagegen_testing.conformance.checks import secrets_in_error

    async with aiohttp.ClientSession() as session:
        with pytest.raises(ImageGenError) as caught:
            construct(session)
    assert secrets_in_error(caught.value, [TOKEN]) == []
    assert TOKEN not in rendered_with_locals(caught.value)
