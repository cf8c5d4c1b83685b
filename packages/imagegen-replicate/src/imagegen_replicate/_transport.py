"""HTTP to Replicate's prediction endpoints, with retries that cannot double-bill.

Which failures are retried, and why:

* **429 Too Many Requests**, on every endpoint, creates included. Replicate
  throttles before doing any work, so the request had no effect; we wait for
  ``Retry-After`` (header, or the wait the body names) plus a little jitter.
* **A connection that could not be opened** (refused, DNS failure), on every
  endpoint: no byte of the request left this machine.
* **5xx, time-outs and connections that broke mid-request**, only for requests
  that are safe to repeat: ``GET`` of a prediction and ``POST .../cancel``
  (cancelling twice is cancelling once). Creating a prediction is *not*
  idempotent and Replicate has no idempotency key: a 500 or a reset after
  the body was sent may still have started a prediction, and repeating the
  request could start (and bill) a second one. Those failures are raised at
  once as ``retryable=False`` errors whose message says so.

Retries back off exponentially with jitter (tenacity, brought in only once a
first attempt has failed: :func:`imagegen_core.http.call_with_retries`), bounded both by the
number of attempts and by the time spent, so a stuck endpoint costs at most
``max_retry_time``. A ``Retry-After`` (header, or the wait the body names) is
a floor: the wait is the longer of it, with up to 10% added, and the jittered
backoff, so a server that says "retry now" still gets a spread-out retry.

The token is sent only to the API's own origin: links in replies that point
elsewhere are not followed with credentials. It is kept out of every place an
error can show it: retry log lines are scrubbed of it here (error messages at
the protocol boundary, by :class:`~imagegen_core.Generation`), and no
variable of a frame an error passes through holds it in the clear (the header
is built inside the call that sends it, and aiohttp's own exceptions, whose
frames do hold the request headers, are not chained to the errors raised
here), so even a traceback rendered with its local variables does not show it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Mapping
from functools import cached_property, partial
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, SecretStr, StringConstraints
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    stop_when_event_set,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from imagegen_core import AddressPolicy, ErrorKind, ImageGenError, redact
from imagegen_core.http import call_with_retries, download, read_capped
from imagegen_replicate._models import ModelRef
from imagegen_replicate._problems import error_for_status
from imagegen_replicate._schema import ModelSchema, schema_from_reply
from imagegen_replicate._settings import ReplicateSettings
from imagegen_replicate._wire import Prediction, UploadedFile, parse_prediction, parse_reply

__all__ = ["MAX_REPLY_BYTES", "ReplicateTransport", "same_origin", "user_agent"]

_log = logging.getLogger("imagegen.replicate")

MAX_REPLY_BYTES = 256 * 1024 * 1024
"""Largest API reply read. Sync replies may inline every image as a data: URL."""


class _Release(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    model: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
    ]
    version: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Deployment(BaseModel):
    """The part of ``GET /deployments/{owner}/{name}`` that names the version it runs."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    current_release: _Release


_NOT_SENT = (aiohttp.ClientConnectorError,)
_NEVER_RETRIED = (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)
_DOUBLE_BILL_NOTE = (
    "; the prediction may have been created, so the request was not repeated "
    "(a second one could be billed twice)"
)


def user_agent() -> str:
    """The ``User-Agent`` this backend sends."""
    from imagegen_replicate import __version__

    return f"imagegen-replicate/{__version__}"


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` has the scheme, host and port of ``base_url``."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme.lower(), a.netloc.lower()) == (b.scheme.lower(), b.netloc.lower())


class _Answer(NamedTuple):
    """A successful reply, not yet read: its status and body."""

    status: int
    body: bytes


class ReplicateTransport:
    """One generation's HTTP conversation with Replicate.

    Built per generation with a snapshot of the settings and the resolved
    token, so a settings update mid-generation cannot change a request in
    flight. The token is held in a private attribute and appears in no repr.

    Args:
        session: The aiohttp session to send with (not closed here).
        settings: The settings snapshot.
        base_url: The resolved API base URL.
        token: The API token.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: ReplicateSettings,
        base_url: str,
        token: SecretStr,
    ) -> None:
        self._session = session
        self._settings = settings
        self._base_url = base_url
        self._token = token

    def __repr__(self) -> str:
        return f"ReplicateTransport(base_url={self._base_url!r})"

    # -- endpoints ----------------------------------------------------------------

    async def create(
        self,
        ref: ModelRef,
        inputs: Mapping[str, Any],
        *,
        wait_seconds: int,
        abandon: asyncio.Event | None = None,
    ) -> Prediction:
        """Create a prediction, holding the reply up to ``wait_seconds`` (sync mode).

        Args:
            ref: The model, version or deployment to run.
            inputs: The model inputs.
            wait_seconds: ``Prefer: wait=N``.
            abandon: Once set, a failed attempt is not retried: the caller is
                being cancelled and only wants to learn what this attempt made.

        Returns:
            The prediction, in whatever state it reached.

        Raises:
            ImageGenError: The request failed, or its reply is not a prediction.
        """
        settings = self._settings
        headers = {
            "Prefer": f"wait={wait_seconds}",
            "Cancel-After": settings.cancel_after_header(),
            "Content-Type": "application/json",
        }
        action = f"creating a prediction for {ref}"
        answer = await self._request(
            "POST",
            f"{self._base_url}/{ref.create_path()}",
            body=ref.create_body(dict(inputs)),
            headers=headers,
            timeout=wait_seconds + settings.request_timeout,
            idempotent=False,
            action=action,
            abandon=abandon,
        )
        return parse_prediction(answer.body, status=answer.status, action=action)

    async def get(self, prediction: Prediction) -> Prediction:
        """Fetch the prediction again, through its ``urls.get`` link."""
        action = f"polling prediction {prediction.id}"
        answer = await self._request(
            "GET",
            self.prediction_url(prediction, "get"),
            timeout=self._settings.request_timeout,
            idempotent=True,
            action=action,
        )
        return parse_prediction(answer.body, status=answer.status, action=action)

    async def cancel(self, prediction: Prediction) -> None:
        """Ask Replicate to cancel the prediction (``POST .../cancel``).

        The reply (the prediction, now being canceled) is not read: a 2xx
        means Replicate took the request, and nothing in its body would change
        what the backend does next, so a body that is not a prediction must not
        turn a cancel that happened into one reported as failed.
        """
        await self._request(
            "POST",
            self.prediction_url(prediction, "cancel"),
            timeout=self._settings.request_timeout,
            idempotent=True,
            action=f"cancelling prediction {prediction.id}",
        )

    async def download(self, url: str) -> bytes:
        """Fetch an output file (from ``replicate.delivery``), capped in size.

        No token is sent: delivery links are capabilities in themselves, and a
        link from a reply is not trusted with our credentials.
        """
        settings = self._settings
        fetched = await download(
            self._session,
            url,
            max_bytes=settings.max_download_bytes,
            client_timeout=aiohttp.ClientTimeout(total=settings.request_timeout),
            attempts=settings.max_attempts,
            backoff=settings.retry_initial_backoff,
            addresses=AddressPolicy.for_settings(settings),
        )
        return fetched.data

    async def model_schema(self, ref: ModelRef) -> ModelSchema:
        """The OpenAPI schema of the model version ``ref`` runs (one or two ``GET``s).

        An official model's schema is its latest version's; a deployment's is
        that of the version its current release runs.

        Raises:
            ImageGenError: ``invalid_request`` for a bare version id (the API
                has no endpoint for its schema without the model's name), or
                the request failed, or the reply holds no schema.
        """
        if ref.kind == "deployment":
            action = f"reading deployment {ref.model_name}"
            answer = await self._read(f"deployments/{ref.owner}/{ref.name}", action)
            release = parse_reply(answer.body, _Deployment, status=answer.status, action=action)
            model, version = release.current_release.model, release.current_release.version
            path = f"models/{model}/versions/{version}"
        elif ref.kind == "model":
            path = f"models/{ref.owner}/{ref.name}"
        elif ref.owner is not None:
            path = f"models/{ref.owner}/{ref.name}/versions/{ref.version}"
        else:
            raise ImageGenError(
                f"the schema of bare version {ref.version} cannot be read (Replicate serves it "
                "only under the model's name); set model to 'owner/name:<version>', or name "
                "the inputs with the input_names setting",
                kind=ErrorKind.INVALID_REQUEST,
                retryable=False,
            )
        action = f"reading the schema of {ref}"
        answer = await self._read(path, action)
        return schema_from_reply(answer.body, action=action)

    async def upload_file(self, data: bytes, media_type: str, filename: str) -> UploadedFile:
        """Upload an input file (``POST /files``, multipart); its ``urls.get`` is the input.

        Retried like a read: an upload repeated after a lost reply leaves at
        most an extra file that nobody is billed for and that expires with
        the others (24 hours), which is better than failing the edit.
        """

        def form() -> aiohttp.FormData:
            parts = aiohttp.FormData()
            parts.add_field("content", data, content_type=media_type, filename=filename)
            parts.add_field("metadata", json.dumps({"uploaded_by": "imagegen-replicate"}))
            return parts

        action = f"uploading input image {filename} ({len(data):,} bytes)"
        answer = await self._request(
            "POST",
            f"{self._base_url}/files",
            form=form,
            timeout=self._settings.request_timeout,
            idempotent=True,
            action=action,
        )
        return parse_reply(answer.body, UploadedFile, status=answer.status, action=action)

    async def delete_file(self, file: UploadedFile) -> None:
        """Delete an uploaded input (``DELETE /files/{id}``); one already gone counts as deleted."""
        try:
            await self._request(
                "DELETE",
                f"{self._base_url}/files/{file.id}",
                timeout=self._settings.request_timeout,
                idempotent=True,
                action=f"deleting input file {file.id}",
            )
        except ImageGenError as exc:
            if exc.status != 404:
                raise

    async def _read(self, path: str, action: str) -> _Answer:
        return await self._request(
            "GET",
            f"{self._base_url}/{path}",
            timeout=self._settings.request_timeout,
            idempotent=True,
            action=action,
        )

    def prediction_url(self, prediction: Prediction, which: Literal["get", "cancel"]) -> str:
        """The ``get`` or ``cancel`` link of a prediction, on the API's own origin.

        The reply's ``urls`` are used when they point at ``base_url``'s origin;
        otherwise (or when missing) the link is built from the id (which the
        reply's model has checked holds nothing that could change the path), so
        the token never follows a link to another host.
        """
        base_url = self._base_url
        link = prediction.link(which)
        if link is not None and same_origin(link, base_url):
            return link
        suffix = "/cancel" if which == "cancel" else ""
        return f"{base_url}/predictions/{prediction.id}{suffix}"

    # -- machinery ----------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float,  # noqa: ASYNC109 - a per-request network timeout, not the caller's
        idempotent: bool,
        action: str,
        abandon: asyncio.Event | None = None,
    ) -> _Answer:
        data = json.dumps(body).encode() if body is not None else None
        client_timeout = aiohttp.ClientTimeout(total=timeout)

        async def once() -> _Answer:
            # The headers are built in the call rather than kept in a
            # variable: this frame is in the traceback of every error raised
            # here, and must not hold the token.
            async with self._session.request(
                method,
                url,
                # A form is built for each attempt: aiohttp consumes it.
                data=form() if form is not None else data,
                headers=self._headers(headers),
                timeout=client_timeout,
            ) as response:
                raw = await _read_capped(response, MAX_REPLY_BYTES, "the API reply")
                if response.status >= 400:
                    text = raw.decode("utf-8", "replace")
                    error = error_for_status(response.status, response.headers, text, action=action)
                    if (
                        not idempotent
                        and error.kind is not ErrorKind.RATE_LIMIT
                        and (response.status >= 500 or response.status == 408)
                    ):
                        error = _not_retryable(error, _DOUBLE_BILL_NOTE)
                    raise error
                return _Answer(response.status, raw)

        try:
            return await call_with_retries(
                once,
                should_retry=partial(_should_retry, idempotent=idempotent),
                retrying=partial(self._retrying, idempotent=idempotent, abandon=abandon),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = self._transport_error(exc, action, idempotent=idempotent)
        # Raised outside the handler so that aiohttp's exception, whose frames
        # hold the request headers, is not chained to it as its context.
        raise failure

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": user_agent(),
            **(extra or {}),
        }

    def _retrying(
        self, spent: float, *, idempotent: bool, abandon: asyncio.Event | None
    ) -> AsyncRetrying:
        """The retry policy, once the first attempt (which took ``spent`` s) has failed."""
        settings = self._settings
        stop = stop_after_attempt(settings.max_attempts) | stop_before_delay(
            max(0.0, settings.max_retry_time - spent)
        )
        if abandon is not None:
            stop = stop | stop_when_event_set(abandon)  # type: ignore[arg-type]
        return AsyncRetrying(
            stop=stop,
            wait=self._wait,
            retry=retry_if_exception(lambda exc: _should_retry(exc, idempotent=idempotent)),
            before_sleep=self._log_retry,
            reraise=True,
        )

    @cached_property
    def _backoff(self) -> wait_base:
        # Built on the first retry, not per transport (one per generation):
        # tenacity's wait objects cost more to make than most requests' retries.
        settings = self._settings
        return wait_exponential(
            multiplier=settings.retry_initial_backoff, max=settings.retry_max_backoff
        ) + wait_random(0, settings.retry_initial_backoff)

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: the jittered backoff, or ``Retry-After`` if longer."""
        backoff = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            # Never sooner than the server asked, plus up to 10% so that many
            # clients told the same moment do not all return at once.
            told = float(retry_after) * (1 + random.uniform(0, 0.1))  # noqa: S311 - jitter, not crypto
            return max(told, backoff)
        return backoff

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        reason = str(error) if isinstance(error, ImageGenError) else type(error).__name__
        reason = redact(reason, [self._token.get_secret_value()])
        _log.info("retrying in %.2f s (attempt %d failed: %s)", wait, state.attempt_number, reason)

    def _transport_error(
        self, exc: BaseException, action: str, *, idempotent: bool
    ) -> ImageGenError:
        sent = not isinstance(exc, _NOT_SENT)
        if isinstance(exc, TimeoutError):
            error = ImageGenError(
                f"no reply from Replicate in time while {action}",
                kind=ErrorKind.TIMEOUT,
            )
        else:
            detail = str(exc).strip()
            error = ImageGenError(
                f"could not reach Replicate while {action}: {type(exc).__name__}"
                + (f": {detail}" if detail else ""),
                kind=ErrorKind.CONNECTIVITY,
            )
        if not idempotent and sent:
            error = _not_retryable(error, _DOUBLE_BILL_NOTE)
        return error


def _should_retry(exc: BaseException, *, idempotent: bool) -> bool:
    if isinstance(exc, ImageGenError):
        if exc.kind is ErrorKind.RATE_LIMIT:
            return True
        return idempotent and exc.status is not None and (exc.status >= 500 or exc.status == 408)
    if isinstance(exc, _NEVER_RETRIED):
        return False
    if isinstance(exc, _NOT_SENT):
        return True
    if isinstance(exc, aiohttp.ClientResponseError):
        return False
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        return idempotent
    return False


def _not_retryable(error: ImageGenError, note: str) -> ImageGenError:
    return error.copy_with(message=error.message + note, retryable=False)


async def _read_capped(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    def too_large(how: str) -> ImageGenError:
        # A reply this size is the API misbehaving, not anything we asked for.
        return ImageGenError(
            f"{what} is larger than the {limit:,}-byte limit ({how})",
            kind=ErrorKind.SERVER,
            retryable=False,
        )

    return await read_capped(response, limit, too_large)
