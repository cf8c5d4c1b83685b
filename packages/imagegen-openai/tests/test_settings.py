"""Settings: validation, where the key and URL come from, Azure OpenAI's shape."""

from __future__ import annotations

import pytest

from imagegen_core import ErrorKind, ImageGenError, ImageRequest
from imagegen_openai import (
    API_KEY_ENV_VAR,
    BASE_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    OpenAIBackend,
    OpenAISettings,
)
from imagegen_testing.openai_emulator import OpenAIEmulator

from .conftest import FAST, failure, settings_for


def test_defaults_are_openai_and_the_gpt_image_family() -> None:
    settings = OpenAISettings()
    assert settings.resolve_base_url() == DEFAULT_BASE_URL
    assert settings.model.startswith("gpt-image")
    assert settings.resolve_key() is None


def test_key_and_base_url_come_from_the_environment_at_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = OpenAISettings()
    monkeypatch.setenv(API_KEY_ENV_VAR, " sk-from-env ")
    monkeypatch.setenv(BASE_URL_ENV_VAR, "http://127.0.0.1:9/v1/")
    key = settings.resolve_key()
    assert key is not None
    assert key.get_secret_value() == "sk-from-env"
    assert settings.resolve_base_url() == "http://127.0.0.1:9/v1"


def test_a_bad_base_url_from_the_environment_fails_as_invalid_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BASE_URL_ENV_VAR, "ftp://nope")
    import asyncio

    error = asyncio.run(failure(OpenAISettings(**FAST, api_key="sk-x")))
    assert error.kind is ErrorKind.INVALID_REQUEST
    assert BASE_URL_ENV_VAR in error.message


@pytest.mark.parametrize(
    "changes",
    [
        {"partial_images": 4},
        {"output_compression": 101},
        {"quality": "ultra"},
        {"auth": "basic"},
        {"organization": "org\r\nX-Injected: 1"},
        {"base_url": "https://api.openai.com/v1?x=1"},
        {"timeout": 0},
    ],
)
def test_bad_settings_are_refused_naming_the_field(changes: dict[str, object]) -> None:
    with pytest.raises(ImageGenError) as caught:
        OpenAIBackend(changes)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert next(iter(changes)) in caught.value.message


async def test_organization_and_project_headers_are_sent(emulator: OpenAIEmulator) -> None:
    async with OpenAIBackend(
        settings_for(emulator, organization="org-123", project="proj_456")
    ) as backend:
        await backend.generate(ImageRequest(prompt="x")).collect()
    [sent] = emulator.requests
    assert sent.headers["OpenAI-Organization"] == "org-123"
    assert sent.headers["OpenAI-Project"] == "proj_456"
    assert sent.headers["User-Agent"].startswith("imagegen-openai/")


async def test_azure_openai_deployment_with_api_version_and_api_key_header(
    emulator: OpenAIEmulator,
) -> None:
    settings = settings_for(
        emulator,
        base_url=emulator.azure_base_url("gpt-image"),
        api_version="2025-04-01-preview",
        auth="api-key",
        model="gpt-image-1",
    )
    async with OpenAIBackend(settings) as backend:
        [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert image.data
    [sent] = emulator.requests
    assert sent.deployment == "gpt-image"
    assert sent.query == {"api-version": "2025-04-01-preview"}
    assert emulator.counters.auth_schemes == {"api-key": 1}


async def test_azure_without_api_version_is_not_found(emulator: OpenAIEmulator) -> None:
    error = await failure(
        settings_for(emulator, base_url=emulator.azure_base_url(), auth="api-key")
    )
    assert error.kind is ErrorKind.INVALID_REQUEST
    assert error.status == 404
