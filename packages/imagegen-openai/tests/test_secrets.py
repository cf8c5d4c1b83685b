"""The API key never appears in logs, errors, reprs, tracebacks' frame locals or os.environ."""

from __future__ import annotations

import logging
import os

import pytest

from imagegen_core import ImageGenError, ImageRequest
from imagegen_openai import API_KEY_ENV_VAR, OpenAIBackend, OpenAISettings
from imagegen_testing.openai_emulator import OpenAIEmulator, OpenAIFault

from .conftest import FAST, failure, rendered_with_locals

KEY = "sk-proj-SecretNeverToLeak0123456789abcdefXYZ"


async def test_the_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env_before = dict(os.environ)
    texts: list[str] = []
    async with OpenAIEmulator(api_key=KEY) as emulator:
        settings = OpenAISettings(**FAST, api_key=KEY, base_url=emulator.base_url)
        emulator.script(OpenAIFault.rate_limited(reset="10ms"))
        async with OpenAIBackend(settings) as backend:
            texts += [repr(backend), str(backend), repr(backend.settings)]
            texts.append(backend.settings.model_dump_json())
            [image] = await backend.generate(ImageRequest(prompt="x")).collect()
            texts.append(repr(image))
            emulator.script(OpenAIFault.http_error(500))
            with pytest.raises(ImageGenError) as caught:
                await backend.generate(ImageRequest(prompt="x")).collect()
            texts += [str(caught.value), repr(caught.value), rendered_with_locals(caught.value)]
    texts.append(caplog.text)
    for text in texts:
        assert KEY not in text
    assert dict(os.environ) == env_before


@pytest.mark.parametrize(
    ("fault", "stream"),
    [
        (OpenAIFault.http_error(400, code="invalid_value", message="bad size"), False),
        (OpenAIFault.http_error(500), True),
        (OpenAIFault.insufficient_quota(), False),
        (OpenAIFault.connection_reset(), True),
        (OpenAIFault.connection_reset(after_processing=True), False),
        (OpenAIFault.stream_cut(after_events=0), True),
        (OpenAIFault.stream_error(after_events=1), True),
    ],
    ids=["400", "500", "quota", "reset", "reset after", "stream cut", "stream error"],
)
async def test_the_key_is_in_no_frame_of_an_errors_traceback(
    fault: OpenAIFault, stream: bool
) -> None:
    async with OpenAIEmulator(api_key=KEY) as emulator:
        emulator.script(fault)
        error = await failure(
            OpenAISettings(**FAST, api_key=KEY, base_url=emulator.base_url, stream=stream)
        )
    text = rendered_with_locals(error)
    assert "Traceback" in text
    assert KEY not in text


async def test_a_key_from_the_environment_is_read_never_written_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with OpenAIEmulator(api_key=KEY) as emulator:
        monkeypatch.setenv(API_KEY_ENV_VAR, KEY)
        backend = OpenAIBackend({"base_url": emulator.base_url})
        assert KEY in list(backend.secret_values())
        [image] = await backend.generate(ImageRequest(prompt="x")).collect()
        assert image.data
        emulator.script(OpenAIFault.http_error(503))
        with pytest.raises(ImageGenError) as caught:
            await backend.generate(ImageRequest(prompt="x")).collect()
        await backend.aclose()
    assert KEY not in rendered_with_locals(caught.value)
    assert os.environ[API_KEY_ENV_VAR] == KEY  # untouched


def test_a_key_typed_into_the_base_url_is_not_echoed() -> None:
    with pytest.raises(ImageGenError) as caught:
        OpenAIBackend({"base_url": f"https://user:{KEY}@example.com/v1"})
    assert KEY not in str(caught.value)
    with pytest.raises(ImageGenError) as caught:
        OpenAIBackend({"base_url": KEY})
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.usefixtures("imagegen_offline_nltk")
async def test_an_echoed_key_is_nowhere_in_the_error_frames_exception(status: int) -> None:
    from pipecat.frames.frames import TextFrame

    from imagegen_core.pipecat import BackendImageGenService
    from imagegen_testing.conformance.checks import secrets_in_error
    from imagegen_testing.pipecat_run import error_frames, run_service

    echo = f"proxy error; request had Authorization: Bearer {KEY}"
    async with OpenAIEmulator(api_key=KEY) as emulator:
        emulator.script(OpenAIFault.http_error(status, message=echo))
        backend = OpenAIBackend(
            OpenAISettings(**{**FAST, "max_attempts": 1}, api_key=KEY, base_url=emulator.base_url)
        )
        try:
            _, up = await run_service(BackendImageGenService(backend=backend), [TextFrame("x")])
        finally:
            await backend.aclose()
    [frame] = error_frames(up)
    assert "proxy error" in frame.error
    assert KEY not in frame.error
    assert secrets_in_error(frame.exception, [KEY]) == []
