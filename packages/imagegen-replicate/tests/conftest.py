"""Shared fixtures: an in-process Replicate emulator and fast backend settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from imagegen_replicate import BASE_URL_ENV_VAR, TOKEN_ENV_VAR, ReplicateBackend, ReplicateSettings
from imagegen_testing.emulator import Latency, ReplicateEmulator

FAST: dict[str, Any] = {
    # Small images and short waits keep every test in tens of milliseconds.
    "inputs": {"megapixels": "0.25"},
    "poll_interval": 0.01,
    "poll_max_interval": 0.05,
    "retry_initial_backoff": 0.01,
    "retry_max_backoff": 0.05,
    "request_timeout": 5.0,
    "cleanup_timeout": 3.0,
    "timeout": 10.0,
}


@pytest.fixture(autouse=True)
def _no_ambient_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's real token or endpoint must never reach a test (or the emulator)."""
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    monkeypatch.delenv(BASE_URL_ENV_VAR, raising=False)


@pytest.fixture
async def emulator() -> AsyncIterator[ReplicateEmulator]:
    async with ReplicateEmulator(min_cancel_after=0) as emu:
        yield emu


MakeSettings = Callable[..., ReplicateSettings]


def answer_before_done(
    emulator: ReplicateEmulator, *, sync_wait: float = 0.01, **latency: float
) -> None:
    """Make sync replies come back unfinished (``starting``/``processing``) so they are polled."""
    emulator.max_sync_wait = sync_wait
    emulator.latency = Latency(**latency)


@pytest.fixture
def make_settings(emulator: ReplicateEmulator) -> MakeSettings:
    def make(**overrides: Any) -> ReplicateSettings:
        fields: dict[str, Any] = {
            **FAST,
            "api_token": emulator.api_token,
            "base_url": emulator.base_url,
        }
        fields.update(overrides)
        return ReplicateSettings(**fields)

    return make


@pytest.fixture
async def backend(make_settings: MakeSettings) -> AsyncIterator[ReplicateBackend]:
    async with ReplicateBackend(make_settings()) as created:
        yield created


@asynccontextmanager
async def stand_in_api(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a loopback port; yields its ``/v1`` base URL.

    For replies the emulator never sends (other models' output shapes, garbled
    bodies): a few aiohttp handlers stand in for the API.
    """
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()
