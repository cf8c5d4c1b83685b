"""OpenAI as a cassette source: the bundled emulator by default, the real API with a key.

The same rules as :mod:`imagegen_testing.conformance.replicate`: recording
goes to the live Images API when ``OPENAI_API_KEY`` is set (whoever records
with a key in their shell wants what the real service says),
``IMAGEGEN_RECORD_LIVE=0`` keeps it on the emulator and ``=1`` insists on the
live API; replaying reaches neither. The emulator's loopback address is
rewritten to ``https://api.openai.com/v1`` in the cassettes, so replay needs
no emulator and the backend replays with its default ``base_url``.

This module imports neither the emulator nor imagegen-openai until a provider
starts: the OpenAI backend is not a dependency of imagegen-testing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr

from imagegen_core import BackendSettings, ErrorKind, ImageBackend
from imagegen_testing.cassettes import cassette_dir as shipped_cassette_dir
from imagegen_testing.conformance.providers import LiveProvider, is_aiohttp_server_task
from imagegen_testing.conformance.scenarios import Scenario
from imagegen_testing.conformance.shapes import ApiShape
from imagegen_testing.vcr.commands import LIVE_OPT_IN

__all__ = [
    "OPENAI_API",
    "OPENAI_INVALID_AUTH_SETTINGS",
    "OPENAI_REPLAY_SETTINGS",
    "OpenAICassettes",
    "OpenAIProvider",
]

OPENAI_API = "https://api.openai.com/v1"
"""The canonical API base URL written into cassettes."""
OPENAI_FILES = "https://oaidalleapiprodscus.blob.core.windows.net/"
"""Where DALL-E's ``url`` outputs are served from, written into cassettes."""
KEY_VARIABLE = "OPENAI_API_KEY"
_EMULATOR_DIR = Path(__file__).resolve().parent.parent / "openai_emulator"


class OpenAIProvider(LiveProvider):
    """Points an OpenAI backend at the emulator, or at the live API when a key is set.

    Scenarios the emulator scripts: ``FAILURE`` is a ``500`` from the API;
    ``CANCEL`` is an image that takes ``slow_image`` seconds, so the test can
    cancel the open request. The live API can do neither on cue, so those two
    skip when recording live.

    Args:
        slow_image: Seconds the ``CANCEL`` scenario's image takes.
        live: Force the live API (True) or the emulator (False); None reads
            the environment.
        environ: Where to read the key and ``IMAGEGEN_RECORD_LIVE`` (tests pass a dict).
        emulator_options: Extra keyword arguments for ``OpenAIEmulator``.

    Raises:
        ValueError: The live API was asked for without ``OPENAI_API_KEY``, or
            ``IMAGEGEN_RECORD_LIVE`` is neither ``0`` nor ``1``.
    """

    def __init__(
        self,
        *,
        slow_image: float = 30.0,
        live: bool | None = None,
        environ: Mapping[str, str] | None = None,
        emulator_options: Mapping[str, Any] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        key = environ.get(KEY_VARIABLE, "").strip()
        opt_in = environ.get(LIVE_OPT_IN, "").strip()
        if opt_in not in {"", "0", "1"}:
            raise ValueError(f"{LIVE_OPT_IN} must be 0 (the emulator) or 1 (the live API)")
        self.live = live if live is not None else (opt_in == "1" if opt_in else bool(key))
        if self.live and not key:
            raise ValueError(f"recording against the live API needs {KEY_VARIABLE}")
        self._live_key = SecretStr(key) if self.live else None
        self.slow_image = slow_image
        self._emulator_options = dict(emulator_options or {})
        self.emulator: Any = None

    def cannot_run(self, scenario: Scenario) -> str | None:
        """The live API cannot be scripted; the emulator runs every scenario."""
        if self.live and scenario in {Scenario.FAILURE, Scenario.CANCEL}:
            return "the live API cannot fail or run slowly on cue; record it against the emulator"
        return None

    async def start(self, scenario: Scenario) -> Mapping[str, Any]:
        """Start the emulator (scripted for ``scenario``), or hand out the live settings."""
        if self._live_key is not None:
            return {"api_key": self._live_key, "base_url": OPENAI_API}
        from imagegen_testing.clock import SteppingClock
        from imagegen_testing.openai_emulator import OpenAIEmulator, OpenAIFault

        # Seeded ids and a stepping clock: re-recording unchanged traffic
        # writes byte-identical cassettes (only real changes show in a diff).
        options = {"seed": 0, "clock": SteppingClock(), **self._emulator_options}
        emulator = OpenAIEmulator(**options)
        await emulator.start()
        self.emulator = emulator
        if scenario is Scenario.FAILURE:
            emulator.script(OpenAIFault.http_error(500, message="The server had an error"))
        elif scenario is Scenario.CANCEL:
            emulator.script(OpenAIFault.slow(self.slow_image))
        return {"api_key": SecretStr(emulator.api_key), "base_url": emulator.base_url}

    async def stop(self) -> None:
        """Stop the emulator, if one was started."""
        emulator, self.emulator = self.emulator, None
        if emulator is not None:
            await emulator.stop()

    def url_map(self) -> Mapping[str, str]:
        """Emulator API and file URLs -> OpenAI's own."""
        if self.emulator is None:
            return {}
        origin = str(self.emulator.origin)
        return {f"{origin}/v1": OPENAI_API, f"{origin}/files/": OPENAI_FILES}

    def secrets(self) -> Iterable[str]:
        """The key in use: the emulator's or the live one."""
        if self._live_key is not None:
            return [self._live_key.get_secret_value()]
        return [str(self.emulator.api_key)] if self.emulator is not None else []

    def owns_task(self, task: asyncio.Task[Any]) -> bool:
        """The emulator's own tasks: aiohttp's server side and the emulator package's code."""
        if self.emulator is None:
            return False
        if is_aiohttp_server_task(task):
            return True
        code = getattr(task.get_coro(), "cr_code", None)
        return code is not None and _EMULATOR_DIR in Path(code.co_filename).parents

    def remote_jobs_running(self) -> int | None:
        """Generations the emulator is still working on; unknowable live."""
        if self.emulator is None:
            return None
        return int(self.emulator.counters.generating)


OPENAI_REPLAY_SETTINGS: Mapping[str, Any] = {
    # Replay sends no key anywhere; an explicit one keeps OPENAI_API_KEY out of it.
    "api_key": "replay-key-not-a-secret",
    # Explicit, so OPENAI_BASE_URL in someone's shell cannot redirect a replay.
    "base_url": OPENAI_API,
    "model": "gpt-image-1-mini",
    "quality": "low",
    # Each request made while recording must be made again, in the same order.
    "max_attempts": 1,
}
"""The OpenAI backend settings the shipped cassettes were recorded with (the
cheapest GPT image model at low quality, for anyone recording live)."""

OPENAI_INVALID_AUTH_SETTINGS: Mapping[str, Any] = {"api_key": "sk-rejected-key-0000"}
"""A key the API rejects, for the authentication scenarios."""


class OpenAICassettes:
    """The conformance knobs that replay the OpenAI cassettes shipped in imagegen-testing.

    Mix it in before :class:`~imagegen_testing.conformance.BackendConformance`::

        class TestOpenAIConformance(OpenAICassettes, BackendConformance):
            pass

    The cassettes live in ``imagegen_testing/cassettes/openai/`` and were
    recorded against the emulator with :data:`OPENAI_REPLAY_SETTINGS`. Record
    them again by running the subclass's module with ``--record-mode=rewrite``:
    against the emulator when ``OPENAI_API_KEY`` is unset (or
    ``IMAGEGEN_RECORD_LIVE=0``), against the live API when it is set.
    """

    backend: ClassVar[str | type[ImageBackend[Any]]] = "openai"
    backend_settings: ClassVar[Mapping[str, Any] | BackendSettings] = OPENAI_REPLAY_SETTINGS
    invalid_auth_settings: ClassVar[Mapping[str, Any] | None] = OPENAI_INVALID_AUTH_SETTINGS
    # A 500 from the Images API is the provider failing.
    failure_kind: ClassVar[ErrorKind | None] = ErrorKind.SERVER
    cassette_dir: ClassVar[str | os.PathLike[str] | None] = shipped_cassette_dir("openai")
    # OpenAI has no cancel endpoint: cancelling closes the connection, no request is sent.
    cancel_sends_request: ClassVar[bool] = False
    # One request held open until the images are ready: the cancellation test cancels
    # it against the emulator in every run (a cassette cannot hold a request open).
    api_shape: ClassVar[ApiShape] = ApiShape.ONE_REQUEST

    def live_provider(self) -> LiveProvider | None:
        """The emulator, or the live API when a key is set (see the class docstring)."""
        return OpenAIProvider()
