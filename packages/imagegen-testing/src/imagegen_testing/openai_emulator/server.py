"""The runner: start the OpenAI emulator on a loopback port, expose what tests need, stop."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

from aiohttp import web

from imagegen_testing.clock import Clock, wall_clock
from imagegen_testing.emulator.ratelimit import TokenBucket
from imagegen_testing.emulator.server import is_loopback
from imagegen_testing.openai_emulator.app import build_app
from imagegen_testing.openai_emulator.faults import OpenAIFault, OpenAIFaultPlan
from imagegen_testing.openai_emulator.state import (
    TOKENS_PER_REQUEST,
    EmulatorState,
    OpenAICounters,
    RecordedRequest,
)

__all__ = ["DEFAULT_DEPLOYMENT", "EMULATOR_API_KEY", "MODERATION_MARKER", "OpenAIEmulator"]

EMULATOR_API_KEY = "sk-emulator-NotARealOpenAIKey-0000000000"
"""The key accepted unless told otherwise: shaped like an OpenAI key, obviously fake."""

DEFAULT_DEPLOYMENT = "gpt-image"
"""The Azure OpenAI deployment an emulator has unless ``deployments=`` says otherwise."""

MODERATION_MARKER = "[emulator: refuse this prompt]"
"""A prompt containing this is refused as ``moderation_blocked`` (the emulator's stand-in for
OpenAI's safety system, which has no documented trigger)."""

_POLL_INTERVAL = 0.005
_SHUTDOWN_TIMEOUT = 1.0


class OpenAIEmulator:
    """OpenAI's Images API, in-process, for tests and local runs.

    Args:
        api_key: The only key accepted.
        host: Interface to bind; loopback unless ``allow_non_loopback``.
        port: Port to bind; 0 picks a free one (see :attr:`base_url`).
        latency: Seconds each image takes to make (previews are spread over it).
        requests_per_minute: The request rate limit.
        tokens_per_minute: The token rate limit (each request costs 1,000).
        deployments: Azure OpenAI deployment name -> model it runs.
        moderation_marker: Prompts containing this are refused; None refuses none.
        file_ttl: Seconds a ``response_format=url`` link stays valid (OpenAI: 60 minutes).
        seed: Seeds request ids and file keys, for reproducible runs.
        clock: Where reported times are read (``created``, ``Date``,
            ``openai-processing-ms``) and the rate limits refill from: the wall
            clock by default; a :class:`~imagegen_testing.clock.SteppingClock`
            with a ``seed`` makes the same traffic produce the same bytes.
        allow_non_loopback: Permit a non-loopback ``host``.
        access_log: Log each request (method, path, status; never headers).
    """

    def __init__(
        self,
        *,
        api_key: str = EMULATOR_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        requests_per_minute: int = 500,
        tokens_per_minute: int = 5_000_000,
        deployments: Mapping[str, str] | None = None,
        moderation_marker: str | None = MODERATION_MARKER,
        file_ttl: float = 3600.0,
        seed: int | None = None,
        clock: Clock = wall_clock,
        allow_non_loopback: bool = False,
        access_log: bool = False,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if not allow_non_loopback and not is_loopback(host):
            raise ValueError(
                f"refusing to bind {host!r}: not loopback (pass allow_non_loopback=True)"
            )
        if latency < 0:
            raise ValueError("latency must not be negative")
        self._host = host
        self._port = port
        self._access_log = access_log
        # The buckets refill by the same clock as the times replies report, so
        # a stepping clock makes the rate-limit headers reproducible too.
        bucket_clock = time.monotonic if clock is wall_clock else lambda: clock().timestamp()
        self._state = EmulatorState(
            api_key=api_key,
            latency=latency,
            request_limit=TokenBucket(requests_per_minute, clock=bucket_clock),
            token_limit=TokenBucket(
                max(1, tokens_per_minute // TOKENS_PER_REQUEST), clock=bucket_clock
            ),
            deployments=dict(deployments or {DEFAULT_DEPLOYMENT: "gpt-image-1"}),
            moderation_marker=moderation_marker,
            file_ttl=file_ttl,
            rng=random.Random(seed),  # noqa: S311 - ids, not secrets
            clock=clock,
        )
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        where = self._state.origin or f"http://{self._host}:{self._port} (not started)"
        return f"OpenAIEmulator({where})"

    @property
    def origin(self) -> str:
        """``http://host:port`` (only once started)."""
        if not self._state.origin:
            raise RuntimeError("the emulator is not started")
        return self._state.origin

    @property
    def base_url(self) -> str:
        """What a client uses as OpenAI's base URL: ``http://host:port/v1``."""
        return f"{self.origin}/v1"

    def azure_base_url(self, deployment: str = DEFAULT_DEPLOYMENT) -> str:
        """An Azure OpenAI deployment's base URL (send ``api-version`` and ``api-key``)."""
        return f"{self.origin}/openai/deployments/{deployment}"

    @property
    def api_key(self) -> str:
        """The key the emulator accepts."""
        return self._state.api_key

    @property
    def latency(self) -> float:
        """Seconds each image takes, for requests from now on."""
        return self._state.latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency must not be negative")
        self._state.latency = value

    @property
    def faults(self) -> OpenAIFaultPlan:
        """Scripted faults still to come."""
        return self._state.faults

    @property
    def counters(self) -> OpenAICounters:
        """What happened so far."""
        return self._state.counters

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API request that passed authentication and validation, in order."""
        return self._state.log

    def script(self, *faults: OpenAIFault, times: int = 1) -> None:
        """Apply ``faults`` together to each of the next ``times`` API requests."""
        self._state.faults.script(*faults, times=times)

    async def wait_until(
        self, condition: Callable[[OpenAIEmulator], bool], *, within: float = 5.0
    ) -> None:
        """Return once ``condition(self)`` holds, checking every few milliseconds.

        Raises:
            TimeoutError: It still did not hold after ``within`` seconds.
        """
        deadline = time.monotonic() + within
        while not condition(self):
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the condition did not hold within {within}s ({self.counters!r})"
                )
            await asyncio.sleep(_POLL_INTERVAL)

    async def start(self) -> None:
        """Listen; :attr:`base_url` is valid afterwards."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already started")
        runner = web.AppRunner(
            build_app(self._state),
            access_log=logging.getLogger("aiohttp.access") if self._access_log else None,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
            # A client that goes away cancels its generation, as a real server notices.
            handler_cancellation=True,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self._state.origin = f"http://{shown}:{port}"

    async def stop(self) -> None:
        """Stop listening (safe to call twice)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
