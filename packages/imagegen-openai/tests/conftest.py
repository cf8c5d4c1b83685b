"""Shared fixtures: an in-process OpenAI emulator and fast backend settings."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest

from imagegen_core import ImageGenError, ImageRequest
from imagegen_openai import API_KEY_ENV_VAR, BASE_URL_ENV_VAR, OpenAIBackend, OpenAISettings
from imagegen_testing.openai_emulator import OpenAIEmulator

FAST: dict[str, Any] = {
    "retry_initial_backoff": 0.01,
    "max_retry_wait": 2.0,
    "timeout": 20.0,
    "connect_timeout": 5.0,
    "read_timeout": 10.0,
}


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's real key or endpoint must never reach a test (or the emulator)."""
    for name in (API_KEY_ENV_VAR, BASE_URL_ENV_VAR, "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator() as emu:
        yield emu


def settings_for(emulator: OpenAIEmulator, **changes: Any) -> OpenAISettings:
    """Settings pointing at ``emulator``, fast, with ``changes`` on top."""
    return OpenAISettings(
        **{**FAST, "base_url": emulator.base_url, "api_key": emulator.api_key, **changes}
    )


async def failure(settings: OpenAISettings, request: ImageRequest | None = None) -> ImageGenError:
    """The error one generation with ``settings`` ends in."""
    async with OpenAIBackend(settings) as backend:
        with pytest.raises(ImageGenError) as caught:
            await backend.generate(request or ImageRequest(prompt="x")).collect()
    return caught.value


def rendered_with_locals(error: BaseException) -> str:
    """The traceback as an error tracker shows it: every frame's locals, causes and contexts."""
    return "".join(
        traceback.TracebackException(
            type(error), error, error.__traceback__, capture_locals=True
        ).format()
    )
