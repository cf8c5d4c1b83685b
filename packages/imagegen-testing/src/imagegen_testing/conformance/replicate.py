"""Replicate as a cassette source: the bundled emulator by default, the real API with a token.

Recording against the emulator needs no account, costs nothing and can be
made to fail on cue (a failed prediction, a prediction slow enough to cancel).
Recording goes to the real API when ``REPLICATE_API_TOKEN`` is set, since
whoever records with a token in their shell wants what the real service
says; ``IMAGEGEN_RECORD_LIVE=0`` keeps such a recording on the emulator, and
``IMAGEGEN_RECORD_LIVE=1`` insists on the real API (an error without a
token). Only recording starts a provider: replaying (pytest's default
``--record-mode=none``) never reaches either, token or not.

Either way the cassettes come out alike: the emulator's loopback addresses are
rewritten to ``https://api.replicate.com/v1`` and ``https://replicate.delivery/``,
so replay needs neither the emulator nor a network, and the backend replays
with its default ``base_url``.

This module imports neither the emulator nor imagegen-replicate until a
provider starts: the Replicate backend is not a dependency of imagegen-testing.
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
from imagegen_testing.vcr.commands import LIVE_OPT_IN

__all__ = [
    "REPLICATE_API",
    "REPLICATE_DELIVERY",
    "REPLICATE_INVALID_AUTH_SETTINGS",
    "REPLICATE_REPLAY_SETTINGS",
    "ReplicateCassettes",
    "ReplicateProvider",
]

REPLICATE_API = "https://api.replicate.com/v1"
"""The canonical API base URL written into cassettes."""
REPLICATE_DELIVERY = "https://replicate.delivery/"
"""The canonical file host written into cassettes."""
REPLICATE_WEB = "https://replicate.com"
"""Where any other emulator URL (a prediction's ``urls.web``) is pointed."""
_EMULATOR_DIR = Path(__file__).resolve().parent.parent / "emulator"
TOKEN_VARIABLE = "REPLICATE_API_TOKEN"  # noqa: S105  (a variable name, not a token)


class ReplicateProvider(LiveProvider):
    """Points a Replicate backend at the emulator, or at the live API when a token is set.

    Which one (:attr:`live`): ``live=True`` or ``False`` decides; otherwise
    ``IMAGEGEN_RECORD_LIVE=1`` or ``0`` in the environment decides; otherwise
    the live API exactly when ``REPLICATE_API_TOKEN`` is set.

    Scenarios the emulator scripts: ``FAILURE`` is a failed prediction with
    ``failure_error``; ``CANCEL`` is a prediction that takes ``slow_predict``
    seconds, so the test can cancel it mid-way; ``PROGRESS`` one that takes
    ``progress_predict`` seconds, so it is polled while it runs. The live API can do neither on
    cue, so those two scenarios skip when recording live.

    Args:
        slow_predict: Predict time of the ``CANCEL`` scenario's prediction.
        progress_predict: Predict time of the ``PROGRESS`` scenario's
            prediction (longer than the sync wait, so it is polled).
        failure_error: The ``error`` of the ``FAILURE`` scenario's prediction.
        token_setting: The backend setting that takes the API token.
        base_url_setting: The backend setting that takes the API base URL.
        live: Force the live API (True) or the emulator (False); None reads
            the environment.
        environ: Where to read the token and ``IMAGEGEN_RECORD_LIVE`` (tests pass a dict).
        emulator_options: Extra keyword arguments for ``ReplicateEmulator``.

    Raises:
        ValueError: The live API was asked for without ``REPLICATE_API_TOKEN``,
            or ``IMAGEGEN_RECORD_LIVE`` is neither ``0`` nor ``1``.
    """

    def __init__(
        self,
        *,
        slow_predict: float = 30.0,
        progress_predict: float = 2.0,
        failure_error: str = "CUDA out of memory (scripted by the conformance suite)",
        token_setting: str = "api_token",  # noqa: S107  (a setting name)
        base_url_setting: str = "base_url",
        live: bool | None = None,
        environ: Mapping[str, str] | None = None,
        emulator_options: Mapping[str, Any] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        token = environ.get(TOKEN_VARIABLE, "").strip()
        self.live = _wants_live(live, environ.get(LIVE_OPT_IN, "").strip(), bool(token))
        if self.live and not token:
            raise ValueError(f"recording against the live API needs {TOKEN_VARIABLE}")
        self._live_token = SecretStr(token) if self.live else None
        self.slow_predict = slow_predict
        self.progress_predict = progress_predict
        self.failure_error = failure_error
        self._token_setting = token_setting
        self._base_url_setting = base_url_setting
        self._emulator_options = dict(emulator_options or {})
        self.emulator: Any = None

    def cannot_run(self, scenario: Scenario) -> str | None:
        """The live API cannot be scripted; the emulator runs every scenario."""
        if not self.live:
            return None
        if scenario is Scenario.FAILURE:
            return (
                "the live API cannot be made to fail a prediction; record it against the emulator"
            )
        if scenario is Scenario.CANCEL:
            return (
                "a live prediction may finish before it can be cancelled; "
                "record it against the emulator"
            )
        return None

    async def start(self, scenario: Scenario) -> Mapping[str, Any]:
        """Start the emulator (scripted for ``scenario``), or hand out the live settings."""
        if self._live_token is not None:
            return {self._token_setting: self._live_token, self._base_url_setting: REPLICATE_API}
        from imagegen_testing.clock import SteppingClock
        from imagegen_testing.emulator import Fault, ReplicateEmulator

        # Seeded ids, a stepping clock and sync waits that follow the plan,
        # not the machine's speed: re-recording unchanged traffic writes
        # byte-identical cassettes (only real changes show in a diff).
        options = {
            "seed": 0,
            "clock": SteppingClock(),
            "sync_waits_by_plan": True,
            **self._emulator_options,
        }
        emulator = ReplicateEmulator(**options)
        await emulator.start()
        self.emulator = emulator
        if scenario is Scenario.FAILURE:
            emulator.script(Fault.failed_prediction(self.failure_error))
        elif scenario is Scenario.CANCEL:
            emulator.script(Fault.slow_prediction(predict=self.slow_predict))
        elif scenario is Scenario.PROGRESS:
            # Longer than the sync wait, so the prediction is polled while it logs.
            emulator.script(Fault.slow_prediction(predict=self.progress_predict))
        return {
            self._token_setting: SecretStr(emulator.api_token),
            self._base_url_setting: emulator.base_url,
        }

    async def stop(self) -> None:
        """Stop the emulator, if one was started."""
        emulator, self.emulator = self.emulator, None
        if emulator is not None:
            await emulator.stop()

    def url_map(self) -> Mapping[str, str]:
        """Emulator API and file URLs -> Replicate's own."""
        if self.emulator is None:
            return {}
        api = str(self.emulator.base_url).rstrip("/")
        origin = api.removesuffix("/v1")
        return {
            api: REPLICATE_API,
            f"{origin}/delivery/": REPLICATE_DELIVERY,
            origin: REPLICATE_WEB,  # anything else, e.g. urls.web
        }

    def secrets(self) -> Iterable[str]:
        """The token in use: the emulator's or the live one."""
        if self._live_token is not None:
            return [self._live_token.get_secret_value()]
        if self.emulator is not None:
            return [str(self.emulator.api_token)]
        return []

    def owns_task(self, task: asyncio.Task[Any]) -> bool:
        """The emulator's own tasks: aiohttp's server side and the emulator package's code."""
        if self.emulator is None:
            return False
        if is_aiohttp_server_task(task):
            return True
        code = getattr(task.get_coro(), "cr_code", None)
        return code is not None and _EMULATOR_DIR in Path(code.co_filename).parents

    def remote_jobs_running(self) -> int | None:
        """The emulator's count of unfinished predictions; unknowable live."""
        if self.emulator is None:
            return None
        return int(self.emulator.counters.predictions_running)

    def input_images_received(self) -> int | None:
        """Input images (masks not counted) the latest prediction's model read; unknowable live."""
        if self.emulator is None or not self.emulator.predictions:
            return None
        record = list(self.emulator.predictions.values())[-1]
        masks = {spec.name for spec in record.spec.image_inputs if spec.mask_for is not None}
        return sum(len(images) for name, images in record.received.items() if name not in masks)


def _wants_live(live: bool | None, opt_in: str, has_token: bool) -> bool:
    if live is not None:
        return live
    if opt_in not in {"", "0", "1"}:
        raise ValueError(f"{LIVE_OPT_IN} must be 0 (the emulator) or 1 (the live API)")
    return opt_in == "1" if opt_in else has_token


REPLICATE_REPLAY_SETTINGS: Mapping[str, Any] = {
    # Replay sends no token anywhere; an explicit one keeps REPLICATE_API_TOKEN out of it.
    "api_token": "replay-token-not-a-secret",
    # Explicit, so REPLICATE_BASE_URL in someone's shell cannot redirect a replay.
    "base_url": REPLICATE_API,
    # Small, fast images: 512x512-class outputs, one step.
    "inputs": {"megapixels": "0.25", "num_inference_steps": 1},
    # A held create comes back within a second, and polls are quick; each request
    # made while recording must be made again, in the same order, while replaying.
    "wait_seconds": 1,
    "poll_interval": 0.05,
    "poll_max_interval": 0.2,
    "max_attempts": 1,
}
"""The Replicate backend settings the shipped cassettes were recorded with.

A replay makes the same requests as the recording only with the same
settings: change them and re-record (see :class:`ReplicateCassettes`)."""

REPLICATE_INVALID_AUTH_SETTINGS: Mapping[str, Any] = {"api_token": "rejected-token-0000"}
"""Credentials the emulator rejects, for the authentication scenarios."""


class ReplicateCassettes:
    """The conformance knobs that replay the Replicate cassettes shipped in imagegen-testing.

    Mix it in before :class:`~imagegen_testing.conformance.BackendConformance`::

        class TestReplicateConformance(ReplicateCassettes, BackendConformance):
            pass

    The cassettes live in ``imagegen_testing/cassettes/replicate/`` (package
    data) and were recorded against the emulator with
    :data:`REPLICATE_REPLAY_SETTINGS`, so anyone can reproduce them without an
    account. To record them again, from a checkout, run the subclass's module
    with ``--record-mode=rewrite``: against the emulator when
    ``REPLICATE_API_TOKEN`` is unset (or ``IMAGEGEN_RECORD_LIVE=0``), against
    the live API when it is set. Live, the failure and cancellation scenarios
    skip and keep their emulator cassettes, because the real API cannot fail or
    run slowly on cue (see :class:`ReplicateProvider`).
    """

    backend: ClassVar[str | type[ImageBackend[Any]]] = "replicate"
    backend_settings: ClassVar[Mapping[str, Any] | BackendSettings] = REPLICATE_REPLAY_SETTINGS
    invalid_auth_settings: ClassVar[Mapping[str, Any] | None] = REPLICATE_INVALID_AUTH_SETTINGS
    # A "failed" prediction is the provider failing.
    failure_kind: ClassVar[ErrorKind | None] = ErrorKind.SERVER
    cassette_dir: ClassVar[str | os.PathLike[str] | None] = shipped_cassette_dir("replicate")

    def live_provider(self) -> LiveProvider | None:
        """The emulator, or the live API when a token is set (see the class docstring)."""
        return ReplicateProvider()
