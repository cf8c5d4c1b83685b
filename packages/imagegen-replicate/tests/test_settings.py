"""Settings: bounds, model shapes, token fallback, and secrets kept out of reprs."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr, ValidationError

from imagegen_core import ErrorKind, ImageGenError
from imagegen_replicate import (
    BASE_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    DEFAULT_WAIT_SECONDS,
    TOKEN_ENV_VAR,
    ReplicateBackend,
    ReplicateSettings,
)

SECRET = "r8_SettingsTestSecretValue123456789"


def test_defaults_match_the_old_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL_ENV_VAR, raising=False)
    settings = ReplicateSettings()
    assert settings.model == "black-forest-labs/flux-schnell"
    assert settings.resolve_base_url() == DEFAULT_BASE_URL == "https://api.replicate.com/v1"
    assert settings.api_token is None


def test_the_sync_wait_is_short_so_an_interruption_can_cancel() -> None:
    # The old plugin held the create for 60 s, during which no cancel was
    # possible (the id is in the reply); see docs/replicate.md.
    assert ReplicateSettings().wait_seconds == DEFAULT_WAIT_SECONDS == 5


@pytest.mark.parametrize("wait", [0, 61, -1])
def test_wait_seconds_must_be_1_to_60(wait: int) -> None:
    with pytest.raises(ValidationError, match="wait_seconds"):
        ReplicateSettings(wait_seconds=wait)


@pytest.mark.parametrize("wait", [1, 60])
def test_wait_seconds_bounds_are_inclusive(wait: int) -> None:
    assert ReplicateSettings(wait_seconds=wait).wait_seconds == wait


def test_invalid_settings_are_an_invalid_request_error_naming_the_field() -> None:
    with pytest.raises(ImageGenError) as caught:
        ReplicateBackend({"wait_seconds": 99})
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "wait_seconds" in caught.value.message
    with pytest.raises(ImageGenError, match="deployments/owner/name"):
        ReplicateBackend({"model": "not a model"})
    with pytest.raises(ImageGenError, match="unknown_field"):
        ReplicateBackend({"unknown_field": 1})


def test_model_is_normalised() -> None:
    assert ReplicateSettings(model="  acme/thing  ").model == "acme/thing"
    assert ReplicateSettings(model="deployments/acme/x").model_ref.kind == "deployment"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com", "api.replicate.com/v1", "https://u:p@example.com/v1", "https://x/?a=1"],
)
def test_base_url_must_be_a_plain_http_url(url: str) -> None:
    with pytest.raises(ValidationError, match="base_url"):
        ReplicateSettings(base_url=url)


def test_base_url_trailing_slash_is_dropped() -> None:
    assert ReplicateSettings(base_url="http://127.0.0.1:9/v1/").base_url == "http://127.0.0.1:9/v1"
    assert ReplicateSettings(base_url="http://127.0.0.1:9/").base_url == "http://127.0.0.1:9/v1"


def test_base_url_falls_back_to_the_environment_at_use(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ReplicateSettings()
    monkeypatch.setenv(BASE_URL_ENV_VAR, "http://127.0.0.1:8787")  # official clients' spelling
    assert settings.resolve_base_url() == "http://127.0.0.1:8787/v1"
    monkeypatch.setenv(BASE_URL_ENV_VAR, "http://127.0.0.1:8787/v1/")
    assert settings.resolve_base_url() == "http://127.0.0.1:8787/v1"
    explicit = ReplicateSettings(base_url="https://proxy.example/replicate/v1")
    assert explicit.resolve_base_url() == "https://proxy.example/replicate/v1"
    monkeypatch.setenv(BASE_URL_ENV_VAR, "not a url")
    with pytest.raises(ValueError, match=BASE_URL_ENV_VAR):
        settings.resolve_base_url()


def test_polling_bounds_are_consistent() -> None:
    with pytest.raises(ValidationError, match="poll_max_interval"):
        ReplicateSettings(poll_interval=2, poll_max_interval=1)
    with pytest.raises(ValidationError, match="retry_max_backoff"):
        ReplicateSettings(retry_initial_backoff=2, retry_max_backoff=1)


def test_cancel_after_header() -> None:
    assert ReplicateSettings().cancel_after_header() == "180s"
    assert ReplicateSettings(timeout=2.5).cancel_after_header() == "5s"  # Replicate's minimum
    assert ReplicateSettings(timeout=61.2).cancel_after_header() == "62s"
    assert ReplicateSettings(cancel_after=30).cancel_after_header() == "30s"
    assert ReplicateSettings(cancel_after=0.25).cancel_after_header() == "250ms"


def test_token_falls_back_to_the_environment_at_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    settings = ReplicateSettings()
    assert settings.resolve_token() is None
    monkeypatch.setenv(TOKEN_ENV_VAR, f"  {SECRET}  ")
    from_env = settings.resolve_token()  # read now, not when the settings were built
    assert from_env is not None
    assert from_env.get_secret_value() == SECRET
    assert SECRET not in repr(from_env)
    explicit = ReplicateSettings(api_token=SecretStr("r8_other")).resolve_token()
    assert explicit is not None
    assert explicit.get_secret_value() == "r8_other"


def test_blank_token_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    assert ReplicateSettings(api_token=SecretStr("   ")).api_token is None
    monkeypatch.setenv(TOKEN_ENV_VAR, "")
    assert ReplicateSettings().resolve_token() is None


def test_token_is_not_in_any_repr_or_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    settings = ReplicateSettings(api_token=SecretStr(SECRET))
    backend = ReplicateBackend(settings)
    for text in (
        repr(settings),
        str(settings),
        repr(backend),
        str(settings.model_dump()),
        settings.model_dump_json(),
    ):
        assert SECRET not in text
    assert SECRET not in os.environ.values()


def test_secret_values_include_the_environment_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV_VAR, SECRET)
    assert SECRET in list(ReplicateBackend().secret_values())
    explicit = ReplicateBackend({"api_token": "r8_explicit_token"})
    assert list(explicit.secret_values()) == ["r8_explicit_token"]


def test_capabilities_follow_the_model_setting() -> None:
    backend = ReplicateBackend()
    assert backend.capabilities.max_images_per_call == 4
    backend.update_settings(model="deployments/acme/flux")
    assert backend.capabilities.max_images_per_call == 1
    backend.update_settings(capabilities={"max_images_per_call": 3})
    assert backend.capabilities.max_images_per_call == 3
