"""The OpenAI backend's settings: one validated, immutable pydantic model.

Three groups: where requests go and how they are signed (``base_url``,
``api_key``, ``organization``, ``project``, and for Azure OpenAI
``api_version`` and ``auth="api-key"``); what is asked of the model
(``model``, ``quality``, ``background``, ``moderation``, ...); and how hard the
backend tries (timeouts, attempts, caps). The key and base URL are read from
``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` at each use when the settings leave
them unset, the way OpenAI's own clients read them, and never written.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, JsonValue, SecretStr, field_validator

from imagegen_core import BackendSettings
from imagegen_core.http import DEFAULT_MAX_DOWNLOAD_BYTES
from imagegen_openai._models import DEFAULT_MODEL

__all__ = [
    "API_KEY_ENV_VAR",
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "OpenAISettings",
    "normalise_base_url",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
API_KEY_ENV_VAR = "OPENAI_API_KEY"
"""Read (never written) when ``api_key`` is not set."""
BASE_URL_ENV_VAR = "OPENAI_BASE_URL"
"""Read (never written) when ``base_url`` is not set. The official clients' name."""

Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class OpenAISettings(BackendSettings):
    """How the OpenAI backend talks to the Images API (or an OpenAI-compatible one).

    Options left at None are not sent, so the model's own default applies.
    A value the configured model does not take (``background="transparent"``
    on ``gpt-image-2``, ``style`` on a GPT image model) is refused when a
    generation starts, before any request.
    """

    api_key: SecretStr | None = Field(
        default=None,
        description=f"API key; when unset, {API_KEY_ENV_VAR} is read at use.",
    )
    base_url: str | None = Field(
        default=None,
        description=f"API base URL; when unset, {BASE_URL_ENV_VAR} is read at use, "
        f"else {DEFAULT_BASE_URL}. For Azure OpenAI: "
        "https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT "
        "(with api_version) or https://RESOURCE.openai.azure.com/openai/v1.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Fetch output links that lead to private, loopback or link-local addresses "
        "(refused by default, except on the API base URL's own host).",
    )
    organization: str | None = Field(
        default=None, description="Sent as OpenAI-Organization, for keys in several organizations."
    )
    project: str | None = Field(default=None, description="Sent as OpenAI-Project.")
    api_version: str | None = Field(
        default=None,
        description="Azure OpenAI's api-version query parameter (e.g. 2025-04-01-preview); "
        "not sent when unset.",
    )
    auth: Literal["bearer", "api-key"] = Field(
        default="bearer",
        description="How the key is sent: 'Authorization: Bearer KEY' (OpenAI, most "
        "compatible servers, Azure Entra tokens) or 'api-key: KEY' (Azure OpenAI keys).",
    )

    model: str = Field(
        default=DEFAULT_MODEL,
        min_length=1,
        description="gpt-image-1.5, gpt-image-1, gpt-image-1-mini, gpt-image-2, dall-e-3, "
        "dall-e-2, or a compatible server's model name.",
    )
    quality: Literal["auto", "low", "medium", "high", "standard", "hd"] | None = Field(
        default=None,
        description="low/medium/high/auto (GPT image), standard/hd (dall-e-3).",
    )
    background: Literal["auto", "opaque", "transparent"] | None = Field(
        default=None, description="GPT image models; transparent needs png or webp output."
    )
    moderation: Literal["auto", "low"] | None = Field(
        default=None, description="GPT image models' content moderation level."
    )
    input_fidelity: Literal["low", "high"] | None = Field(
        default=None, description="How closely edits keep the input images' features."
    )
    output_compression: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="jpeg/webp compression 0-100 when a request gives no quality.",
    )
    style: Literal["vivid", "natural"] | None = Field(default=None, description="dall-e-3 only.")
    response_format: Literal["b64_json", "url"] = Field(
        default="b64_json",
        description="DALL-E models only (GPT image models always answer base64): "
        "url answers links that expire after 60 minutes.",
    )
    user: str | None = Field(
        default=None, description="An end-user id OpenAI may use to detect abuse."
    )
    stream: bool = Field(
        default=False,
        description="Stream the generation (GPT image models) so partial previews arrive "
        "as progress events before each final image.",
    )
    partial_images: int = Field(
        default=2, ge=0, le=3, description="Previews per image when streaming (0-3)."
    )
    extra_body: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Further fields sent with every request (request options override them).",
    )

    timeout: Seconds = Field(
        default=300.0,
        description="Deadline for one generation (GPT image at high quality can take minutes).",
    )
    connect_timeout: Seconds = Field(default=15.0, description="Time to open a connection.")
    read_timeout: Seconds = Field(
        default=240.0,
        description="Longest silence while waiting for the reply or the next stream event.",
    )
    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Tries per request, for the failures safe to retry."
    )
    max_retry_wait: Seconds = Field(
        default=30.0, description="Longest wait before a retry (a longer reset is an error)."
    )
    retry_initial_backoff: Seconds = Field(default=0.5, description="First backoff.")
    max_reply_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1,
        description="Largest reply read (base64 images inflate the JSON by a third).",
    )
    download_outputs: bool = Field(
        default=False, description="Fetch URL outputs (DALL-E url format) and yield bytes."
    )
    max_download_bytes: int = Field(
        default=DEFAULT_MAX_DOWNLOAD_BYTES, ge=1, description="Largest output file fetched."
    )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalise_base_url(value)

    @field_validator("api_key")
    @classmethod
    def _blank_key_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("organization", "project", "api_version", "user")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if any(ch in value for ch in "\r\n"):
            raise ValueError("must be a single line")
        return value.strip()

    def resolve_base_url(self) -> str:
        """The API base URL: the setting, else ``OPENAI_BASE_URL``, else OpenAI's.

        Raises:
            ValueError: ``OPENAI_BASE_URL`` is not a usable URL.
        """
        if self.base_url is not None:
            return self.base_url
        from_env = os.environ.get(BASE_URL_ENV_VAR, "").strip()
        if not from_env:
            return DEFAULT_BASE_URL
        try:
            return normalise_base_url(from_env)
        except ValueError as exc:
            raise ValueError(f"{BASE_URL_ENV_VAR}: {exc}") from None

    def resolve_key(self) -> SecretStr | None:
        """The key to send: the setting, else ``OPENAI_API_KEY``, else None.

        It stays a ``SecretStr`` all the way to the request, so no frame local
        on the way holds it in the clear.
        """
        if self.api_key is not None:
            return self.api_key
        from_env = os.environ.get(API_KEY_ENV_VAR, "").strip()
        return SecretStr(from_env) if from_env else None


def normalise_base_url(value: str) -> str:
    """Check an API base URL and drop a trailing slash.

    Unlike Replicate's, no path is added: OpenAI-compatible servers and Azure
    put the API under paths of their own, and the URL is used as given.

    Raises:
        ValueError: Not an http(s) URL, or one carrying credentials, a query
            or a fragment (Azure's ``api-version`` has its own setting).
    """
    text = value.strip()
    parts = urlsplit(text)
    # The value is never echoed: a key pasted into the wrong field must not reach a log.
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("base URL must be an http(s) URL")
    if parts.username or parts.password:
        raise ValueError("base URL must not carry credentials; use the API key")
    if parts.query or parts.fragment:
        raise ValueError("base URL must not carry a query or fragment (use api_version)")
    return text.rstrip("/")
