"""The token never appears in logs, errors, reprs or os.environ."""

from __future__ import annotations

import logging
import os

import pytest

from imagegen_core import ImageGenError, ImageRequest
from imagegen_replicate import ReplicateBackend, ReplicateSettings
from imagegen_replicate.settings import TOKEN_ENV_VAR
from imagegen_testing.emulator import Fault, ReplicateEmulator, Route

from .conftest import FAST, answer_before_done


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
