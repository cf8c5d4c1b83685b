"""The runner: start the emulator on a loopback port, expose what tests need, stop cleanly.

Binding anywhere but loopback needs an explicit ``allow_non_loopback=True``:
the emulator accepts a well-known token and would otherwise hand out images
and accept work from the whole network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Self

from aiohttp import web

from imagegen_testing.clock import Clock, wall_clock
from imagegen_testing.emulator.app import build_app
from imagegen_testing.emulator.faults import Fault, FaultPlan, Latency
from imagegen_testing.emulator.files import DEFAULT_FILE_TTL, MAX_UPLOAD_BYTES, UploadedFile
from imagegen_testing.emulator.lifecycle import cancel
from imagegen_testing.emulator.models import (
    BUILTIN_MODELS,
    EmulatedModel,
    flux_schnell_copy,
)
from imagegen_testing.emulator.ratelimit import TokenBucket
from imagegen_testing.emulator.schema import FLUX_SCHNELL
from imagegen_testing.emulator.state import Counters, EmulatorState, PredictionRecord

__all__ = [
    "DEFAULT_DEPLOYMENT",
    "EMULATOR_API_TOKEN",
    "ReplicateEmulator",
    "is_loopback",
]

EMULATOR_API_TOKEN = "r8_EmulatorTokenNotARealReplicateKey0000"  # noqa: S105 (a public fake)
"""The token accepted unless told otherwise: shaped like a Replicate token, obviously fake."""

DEFAULT_DEPLOYMENT = "imagegen/flux-schnell"
"""The deployment an emulator has unless ``deployments=`` says otherwise; it runs flux-schnell."""

_SHUTDOWN_TIMEOUT = 1.0
_POLL_INTERVAL = 0.005


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only the local machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ReplicateEmulator:
    """Replicate's HTTP API, in-process: predictions, schemas, files (see :mod:`.models`).

    Args:
        api_token: The only token accepted.
        host: Interface to bind; loopback unless ``allow_non_loopback``.
        port: Port to bind; 0 picks a free one (see :attr:`base_url`).
        latency: Phase and download latencies; mutable later via :attr:`latency`.
        models: Extra models with flux-schnell's schema, ``owner/name`` to version id.
        extra_models: Further :class:`EmulatedModel` s (a name here replaces a built-in one).
        deployments: ``owner/name`` to model; default ``{DEFAULT_DEPLOYMENT: FLUX_SCHNELL}``.
        data_urls: Sync replies carry ``data:`` URLs (Replicate, October 2024).
        create_rate_limit: Creates allowed a minute.
        rate_limit: Other API requests allowed a minute.
        max_sync_wait: Cap on how long ``Prefer: wait`` holds a request (for fast tests).
        min_cancel_after: Shortest ``Cancel-After`` accepted, in seconds (Replicate: 5).
        seed: Seeds ids, random image seeds and fault rates, for reproducible runs.
        clock: Where the times in replies are read (``created_at``, ``metrics``,
            ``Date``) and the rate limits refill from: the wall clock by
            default; a :class:`~imagegen_testing.clock.SteppingClock` with a
            ``seed`` makes the same traffic produce the same bytes.
        sync_waits_by_plan: A sync reply (``Prefer: wait``) for a prediction
            planned to finish within the wait holds until it has, however
            slow the machine is, instead of answering ``processing`` when the
            wait runs out first. With ``seed`` and ``clock``, this makes a
            recording the same on a loaded machine as on an idle one.
        allow_non_loopback: Permit a non-loopback ``host``.
        access_log: Log each request (method, path, status; never headers).
        file_ttl: Seconds until an uploaded file expires (Replicate: 24 hours).
        max_upload_bytes: Largest upload accepted (Replicate: 100 MiB).
    """

    def __init__(
        self,
        *,
        api_token: str = EMULATOR_API_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: Latency | None = None,
        models: Mapping[str, str] | None = None,
        extra_models: Iterable[EmulatedModel] = (),
        deployments: Mapping[str, str] | None = None,
        data_urls: bool = False,
        create_rate_limit: int = 600,
        rate_limit: int = 3000,
        max_sync_wait: float | None = None,
        min_cancel_after: float = 5.0,
        seed: int | None = None,
        clock: Clock = wall_clock,
        sync_waits_by_plan: bool = False,
        allow_non_loopback: bool = False,
        access_log: bool = False,
        file_ttl: float = DEFAULT_FILE_TTL,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        if not api_token:
            raise ValueError("api_token must not be empty")
        if not allow_non_loopback and not is_loopback(host):
            raise ValueError(
                f"refusing to bind {host!r}: not loopback (pass allow_non_loopback=True)"
            )
        if max_sync_wait is not None and max_sync_wait < 0:
            raise ValueError("max_sync_wait must not be negative")
        if min_cancel_after < 0:
            raise ValueError("min_cancel_after must not be negative")
        if file_ttl <= 0 or max_upload_bytes < 1:
            raise ValueError("file_ttl and max_upload_bytes must be positive")
        catalog = {model.name: model for model in BUILTIN_MODELS}
        for name, version in (models or {}).items():
            catalog[name] = flux_schnell_copy(name, version)
        catalog.update({model.name: model for model in extra_models})
        deployment_table = (
            dict(deployments) if deployments is not None else {DEFAULT_DEPLOYMENT: FLUX_SCHNELL}
        )
        unknown = {model for model in deployment_table.values() if model not in catalog}
        if unknown:
            raise ValueError(f"deployments run unknown model(s): {', '.join(sorted(unknown))}")
        # Not for secrets: seeded so ids, image seeds and fault rates replay identically.
        rng = random.Random(seed)  # noqa: S311
        # The buckets refill by the same clock as the times replies report, so
        # a stepping clock makes the rate-limit headers reproducible too.
        bucket_clock = time.monotonic if clock is wall_clock else lambda: clock().timestamp()
        self._host = host
        self._port = port
        self._access_log = access_log
        self._state = EmulatorState(
            api_token=api_token,
            latency=latency if latency is not None else Latency(),
            catalog=catalog,
            deployments=deployment_table,
            data_urls=data_urls,
            max_sync_wait=max_sync_wait,
            min_cancel_after=min_cancel_after,
            create_limit=TokenBucket(create_rate_limit, clock=bucket_clock),
            other_limit=TokenBucket(rate_limit, clock=bucket_clock),
            rng=rng,
            faults=FaultPlan(rng=random.Random(rng.random())),  # noqa: S311
            file_ttl=file_ttl,
            max_upload_bytes=max_upload_bytes,
            clock=clock,
            sync_waits_by_plan=sync_waits_by_plan,
        )
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        where = self._state.origin or f"http://{self._host}:{self._port} (not started)"
        return f"ReplicateEmulator({where})"

    @property
    def origin(self) -> str:
        """``http://host:port`` (only once started)."""
        if not self._state.origin:
            raise RuntimeError("the emulator is not started")
        return self._state.origin

    @property
    def base_url(self) -> str:
        """What a client uses as Replicate's base URL: ``http://host:port/v1``."""
        return f"{self.origin}/v1"

    @property
    def api_token(self) -> str:
        """The token the emulator accepts."""
        return self._state.api_token

    @property
    def latency(self) -> Latency:
        """Latencies for predictions created from now on and files served from now on."""
        return self._state.latency

    @latency.setter
    def latency(self, value: Latency) -> None:
        self._state.latency = value

    @property
    def data_urls(self) -> bool:
        """Whether sync replies carry ``data:`` URLs."""
        return self._state.data_urls

    @data_urls.setter
    def data_urls(self, value: bool) -> None:
        self._state.data_urls = value

    @property
    def max_sync_wait(self) -> float | None:
        """Cap on how long ``Prefer: wait`` holds a request."""
        return self._state.max_sync_wait

    @max_sync_wait.setter
    def max_sync_wait(self, value: float | None) -> None:
        self._state.max_sync_wait = value

    @property
    def models(self) -> Mapping[str, str]:
        """``owner/name`` to version id."""
        return self._state.models

    @property
    def catalog(self) -> Mapping[str, EmulatedModel]:
        """``owner/name`` to the model the emulator runs."""
        return self._state.catalog

    @property
    def files(self) -> Mapping[str, UploadedFile]:
        """Every uploaded file by id, deleted and expired ones included."""
        return self._state.files

    @property
    def deployments(self) -> Mapping[str, str]:
        """Deployment ``owner/name`` to the model it runs."""
        return self._state.deployments

    @property
    def faults(self) -> FaultPlan:
        """Scripted faults and fault rates."""
        return self._state.faults

    @property
    def counters(self) -> Counters:
        """What happened so far."""
        return self._state.counters

    @property
    def predictions(self) -> Mapping[str, PredictionRecord]:
        """Every prediction by id."""
        return self._state.store

    def script(self, *faults: Fault, times: int = 1) -> None:
        """Apply ``faults`` together to the next ``times`` requests they fit.

        See :meth:`FaultPlan.script`.
        """
        self._state.faults.script(*faults, times=times)

    def remove_data(self, prediction_id: str) -> None:
        """Remove a prediction's input, output and logs, as Replicate does after an hour."""
        self._state.store[prediction_id].remove_data()

    async def wait_until(
        self, condition: Callable[[ReplicateEmulator], bool], *, within: float = 5.0
    ) -> None:
        """Return once ``condition(self)`` holds, checking every few milliseconds.

        For assertions on things that happen inside the emulator's handlers,
        e.g. ``await emu.wait_until(lambda e: e.counters.cancels_received == 1)``.

        Raises:
            TimeoutError: ``condition`` still did not hold after ``within`` seconds.
        """
        deadline = time.monotonic() + within
        while not condition(self):
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the condition did not hold within {within}s ({self.counters!r})"
                )
            await asyncio.sleep(_POLL_INTERVAL)

    async def wait_idle(self, within: float = 5.0) -> None:
        """Return once no prediction is running.

        Raises:
            TimeoutError: Predictions were still running after ``within`` seconds.
        """
        try:
            await self.wait_until(
                lambda emulator: not emulator.counters.predictions_running, within=within
            )
        except TimeoutError:
            running = self._state.store.running
            raise TimeoutError(f"{running} prediction(s) still running after {within}s") from None

    async def _stop_predictions(self) -> None:
        records = list(self._state.store.values())
        tasks = [
            record.task for record in records if record.task is not None and not record.task.done()
        ]
        for record in records:
            # Through the lifecycle, so sync requests waiting on the prediction wake up too.
            cancel(record, "shutdown")
            for timer in record.timers:
                timer.cancel()
            record.timers.clear()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reset(self) -> None:
        """Cancel running predictions and forget predictions, counters and faults."""
        await self._stop_predictions()
        self._state.store.clear()
        self._state.files.clear()
        self._state.counters.clear()
        self._state.faults.clear()

    async def start(self) -> None:
        """Listen; :attr:`base_url` is valid afterwards."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already started")
        runner = web.AppRunner(
            build_app(self._state),
            access_log=logging.getLogger("aiohttp.access") if self._access_log else None,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
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
        """Cancel running predictions and stop listening (safe to call twice)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self._stop_predictions()
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
