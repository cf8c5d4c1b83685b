"""What the suite runs against: the Replicate service bound to the bundled emulator.

Every section uses the same service, built the way an app builds it (the
drop-in ``ReplicateImageGenService`` with the app's own aiohttp session), the
same canary token in place of a real one (the emulator accepts only it, and
the secrets section searches everything for it), and the same short waits
so a run of thousands of prompts takes minutes, not hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path
from typing import Any

import aiohttp

from imagegen_core.cli import main as cli_main
from imagegen_replicate import ReplicateImageGenService
from imagegen_testing.emulator import ReplicateEmulator

__all__ = [
    "CANARY",
    "FAST_BACKEND",
    "SMALL_IMAGES",
    "cli_generate",
    "emulator",
    "replicate_service",
    "run_cli",
]

CANARY = "r8_CanaryReliabilityToken0123456789ab"
"""The API token of every run: it must never appear anywhere the suite can look."""

FAST_BACKEND: dict[str, Any] = {
    # Retries and polls in milliseconds instead of seconds: the faults are the
    # same, the run is short. The budget (max_attempts) is the default.
    "poll_max_interval": 0.05,
    "retry_initial_backoff": 0.01,
    "retry_max_backoff": 0.05,
    "request_timeout": 10.0,
    "cleanup_timeout": 5.0,
    "timeout": 30.0,
}
"""Backend settings (``backend_settings=``) of every service the suite builds."""

SMALL_IMAGES = "0.25"
"""flux-schnell's smallest ``megapixels``: 512x512 images, cheap to encode and decode."""


def emulator(**options: Any) -> ReplicateEmulator:
    """An emulator that accepts only :data:`CANARY`; no rate limit of its own unless asked.

    Replicate throttles creates at 600 a minute; the suite's soak sends more
    than that on purpose and scripts its 429s as faults instead.
    """
    defaults: dict[str, Any] = {
        "api_token": CANARY,
        "create_rate_limit": 1_000_000,
        "rate_limit": 1_000_000,
        "min_cancel_after": 0,
        "seed": 9,
    }
    return ReplicateEmulator(**{**defaults, **options})


def replicate_service(
    emu: ReplicateEmulator,
    session: aiohttp.ClientSession,
    *,
    settings: Any = None,
    backend_settings: dict[str, Any] | None = None,
    **parameters: Any,
) -> ReplicateImageGenService:
    """``ReplicateImageGenService`` on ``emu``, as an app writes it, with the fast settings."""
    if settings is None:
        settings = ReplicateImageGenService.Settings(megapixels=SMALL_IMAGES)
    options: dict[str, Any] = {
        "api_token": CANARY,
        "base_url": emu.base_url,
        "poll_interval_secs": 0.02,
        **parameters,
    }
    return ReplicateImageGenService(
        aiohttp_session=session,
        settings=settings,
        backend_settings={**FAST_BACKEND, **(backend_settings or {})},
        **options,
    )


def cli_generate(base_url: str, prompt: str, out: Path, *extra: str) -> list[str]:
    """``imagegen generate`` arguments for the Replicate backend on the emulator, fast settings."""
    argv = ["generate", prompt, "--backend", "replicate", "--out", str(out)]
    settings = {"api_token": CANARY, "base_url": base_url, "poll_interval": 0.02, **FAST_BACKEND}
    for name, value in settings.items():
        argv += ["--set", f"{name}={value}"]
    # A JSON string: the flag reads its value as JSON, and megapixels is text.
    return [*argv, "--option", f'megapixels="{SMALL_IMAGES}"', *extra]


async def run_cli(argv: list[str]) -> tuple[int, str]:
    """Run the ``imagegen`` command in a worker thread; return its status and its output.

    In-process, so a run of dozens of commands does not pay an interpreter
    start each; one at a time, since stdout and stderr are redirected.
    """
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        status = await asyncio.to_thread(cli_main, argv)
    return status, output.getvalue()
