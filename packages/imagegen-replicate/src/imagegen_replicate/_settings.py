"""The Replicate backend's settings: one validated, immutable pydantic model.

Every knob that shapes traffic to Replicate is here, with a bound, so a typo or
an absurd value fails when the backend is built rather than minutes later on
the network. Times are seconds as floats, except ``wait_seconds``, which
Replicate itself takes as a whole number from 1 to 60.
"""

from __future__ import annotations

import math
import os
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    field_validator,
    model_validator,
)

from imagegen_core import BackendSettings, Capabilities
from imagegen_core.http import DEFAULT_MAX_DOWNLOAD_BYTES
from imagegen_replicate._models import DEFAULT_MODEL, ModelRef

__all__ = [
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_DATA_URL_BYTES",
    "DEFAULT_WAIT_SECONDS",
    "TOKEN_ENV_VAR",
    "InputNames",
    "ReplicateSettings",
    "normalise_base_url",
]

DEFAULT_BASE_URL = "https://api.replicate.com/v1"
BASE_URL_ENV_VAR = "REPLICATE_BASE_URL"
"""Read (never written) when ``base_url`` is not set. The official clients' name."""
TOKEN_ENV_VAR = "REPLICATE_API_TOKEN"  # noqa: S105 - the variable's name, not a token
"""Read (never written) when ``api_token`` is not set."""

DEFAULT_WAIT_SECONDS = 5
"""The default sync wait: long enough for flux-schnell to answer in one request.

Short on purpose: while the create request is held, the prediction's id is
unknown, so an interruption can cancel it only once the reply arrives (the
backend waits for it in the background). 60 s, the API's maximum and the old
plugin's default, made every interruption during that minute uncancellable.
"""

MIN_CANCEL_AFTER = 5
"""Replicate's shortest ``Cancel-After`` deadline, in seconds."""

Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]

DEFAULT_MAX_DATA_URL_BYTES = 256 * 1024
"""Input images up to this size go inline as ``data:`` URLs; larger ones are uploaded.

Replicate's docs recommend ``data:`` URLs for small files only and the files
API for larger ones; inline, an image costs a third more bytes in every
request body that carries it, and the create request is the one a user waits on."""

_INPUT_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"


class InputNames(BaseModel):
    """Which model inputs take the images and the mask, named by hand.

    Set it (the ``input_names`` setting) for a model whose schema cannot be
    read (a bare version id) or names its inputs in a way the schema reader
    does not recognise; it replaces what the schema says. ``images`` names
    the input that takes the images; with ``images_are_list`` it is an array
    (every image goes in one list), otherwise it takes one image. ``mask``
    names the input that takes the mask, if the model has one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    images: str = Field(pattern=_INPUT_NAME, description="Input that takes the images.")
    images_are_list: bool = Field(default=False, description="That input is an array.")
    mask: str | None = Field(default=None, pattern=_INPUT_NAME, description="Input for the mask.")


class ReplicateSettings(BackendSettings):
    """How the Replicate backend talks to Replicate.

    The token may be left out: it is then read from ``REPLICATE_API_TOKEN``
    each time a generation starts (and never copied into the environment or
    anywhere else). ``inputs`` are model inputs sent with every prediction,
    such as flux-schnell's ``num_inference_steps`` or ``megapixels``; a
    request's own fields and ``options`` override them.
    """

    api_token: SecretStr | None = Field(
        default=None,
        description=f"Replicate API token; when unset, {TOKEN_ENV_VAR} is read at use.",
    )
    base_url: str | None = Field(
        default=None,
        description=f"Replicate API base URL; when unset, {BASE_URL_ENV_VAR} is read at use, "
        f"else {DEFAULT_BASE_URL}.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Fetch output links that lead to private, loopback or link-local addresses "
        "(refused by default, except on the API base URL's own host).",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        description="'owner/name', 'owner/name:<version>', a 64-hex version id, "
        "or 'deployments/owner/name'.",
    )
    inputs: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Model inputs sent with every prediction (request fields override them).",
    )
    capabilities: Capabilities | None = Field(
        default=None,
        description="What the model supports, for models the backend has no profile for.",
    )
    input_names: InputNames | None = Field(
        default=None,
        description="Inputs that take the images and mask; by default read from the model schema.",
    )
    max_data_url_bytes: int = Field(
        default=DEFAULT_MAX_DATA_URL_BYTES,
        ge=0,
        le=100 * 1024 * 1024,
        description="Input images up to this many bytes go as data: URLs; larger ones are "
        "uploaded to the files API and deleted afterwards.",
    )

    wait_seconds: int = Field(
        default=DEFAULT_WAIT_SECONDS,
        ge=1,
        le=60,
        description="Prefer: wait=N, how long Replicate holds the create's reply before the "
        "prediction is polled; kept short because an interruption can only cancel the "
        "prediction once that reply (with its id) is in.",
    )
    timeout: Seconds = Field(
        default=180.0, description="Deadline for one generation, from create to the last image."
    )
    cancel_after: Seconds | None = Field(
        default=None,
        description="Cancel-After deadline sent to Replicate (its minimum is 5 s); "
        "defaults to `timeout`.",
    )
    poll_interval: Seconds = Field(default=0.5, description="First wait between status polls.")
    poll_backoff: float = Field(
        default=1.5, ge=1.0, le=10.0, description="Factor the poll wait grows by each time."
    )
    poll_max_interval: Seconds = Field(
        default=0.7,
        description="Longest wait between polls while the prediction is processing (its "
        "result may land any moment; half of this is the median delay added).",
    )
    poll_max_interval_starting: Seconds = Field(
        default=2.0,
        description="Longest wait between polls while the prediction is starting (queued or "
        "booting a model, which takes seconds to minutes); never below poll_max_interval.",
    )
    max_polls: int | None = Field(
        default=None, ge=1, description="Most status polls per generation; None for no limit."
    )
    request_timeout: Seconds = Field(
        default=30.0, description="Per-request network timeout (on top of the sync wait)."
    )
    cleanup_timeout: Seconds = Field(
        default=5.0, description="Most time spent cancelling a prediction on interruption."
    )

    max_attempts: int = Field(
        default=4, ge=1, le=20, description="Tries per HTTP request, the first included."
    )
    max_retry_time: Seconds = Field(
        default=30.0,
        description="No retry of one request starts once this long has passed since its "
        "first attempt (counting the wait before it).",
    )
    retry_initial_backoff: Seconds = Field(
        default=0.5, description="First backoff between retries (before jitter)."
    )
    retry_max_backoff: Seconds = Field(default=8.0, description="Longest backoff between retries.")

    download_outputs: bool = Field(
        default=False,
        description="Fetch URL outputs and yield bytes instead of URLs.",
    )
    max_download_bytes: int = Field(
        default=DEFAULT_MAX_DOWNLOAD_BYTES, ge=1, description="Largest output file fetched."
    )

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        return str(ModelRef.parse(value))

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalise_base_url(value)

    @field_validator("api_token")
    @classmethod
    def _blank_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @model_validator(mode="after")
    def _check_polling(self) -> Self:
        if self.poll_max_interval < self.poll_interval:
            raise ValueError("poll_max_interval must not be below poll_interval")
        if self.retry_max_backoff < self.retry_initial_backoff:
            raise ValueError("retry_max_backoff must not be below retry_initial_backoff")
        return self

    # -- derived values ---------------------------------------------------------

    @property
    def model_ref(self) -> ModelRef:
        """The parsed ``model`` setting."""
        return ModelRef.parse(self.model)

    def resolve_base_url(self) -> str:
        """The API base URL: the setting, else ``REPLICATE_BASE_URL``, else Replicate's.

        Read at each use, like the token, so that the two can be pointed at
        an emulator or a proxy together from the environment.

        Raises:
            ValueError: ``REPLICATE_BASE_URL`` is not a usable URL.
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

    def resolve_token(self) -> SecretStr | None:
        """The token to send: the setting, else ``REPLICATE_API_TOKEN``, else ``None``.

        Read at each use so a token exported after start-up is picked up; the
        environment is only ever read. It stays wrapped in a ``SecretStr`` so
        that no variable on the way to the request holds it in the clear: a
        traceback rendered with its local variables (by an error tracker or a
        debugger) shows ``SecretStr('**********')``.
        """
        if self.api_token is not None:
            return self.api_token
        from_env = os.environ.get(TOKEN_ENV_VAR, "").strip()
        return SecretStr(from_env) if from_env else None

    def cancel_after_header(self) -> str:
        """The ``Cancel-After`` value, in Go duration syntax (``180s``, ``1500ms``).

        Without an explicit ``cancel_after`` it is the generation ``timeout``,
        rounded up to whole seconds and raised to Replicate's 5 s minimum: a
        prediction we would give up on anyway should not outlive us.
        """
        if self.cancel_after is None:
            return f"{max(MIN_CANCEL_AFTER, math.ceil(self.timeout))}s"
        if float(self.cancel_after).is_integer():
            return f"{int(self.cancel_after)}s"
        return f"{math.ceil(self.cancel_after * 1000)}ms"


def normalise_base_url(value: str) -> str:
    """Check an API base URL and put it in canonical form (no trailing slash).

    A URL with no path gets ``/v1``, so both ``https://api.replicate.com``
    (how Replicate's own clients spell ``REPLICATE_BASE_URL``) and
    ``https://api.replicate.com/v1`` work.

    Raises:
        ValueError: Not an http(s) URL, or one carrying credentials, a query
            or a fragment.
    """
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base URL {value!r} must be an http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("base URL must not carry a query or fragment")
    if parts.username or parts.password:
        raise ValueError("base URL must not carry credentials; use the API token")
    text = text.rstrip("/")
    if not parts.path.strip("/"):
        text += "/v1"
    return text
