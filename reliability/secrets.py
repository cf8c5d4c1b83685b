"""Secrets: the canary token, searched for everywhere a run could have left it.

Every section runs with :data:`~reliability.subjects.CANARY` as the API
token. This section adds the scenario that tempts a leak most, a provider
(or a proxy in front of it) echoing the token back in its error replies,
on the Replicate emulator and on the OpenAI one (through the generic
``BackendImageGenService``), then searches what the whole run left behind
(:mod:`reliability.evidence`): every log record at the most verbose level, every error frame, every
exception with its whole chain and the local variables of each traceback
frame, the reprs of every service and backend, every file the CLI wrote, and
``os.environ``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from imagegen_core.pipecat import BackendImageGenService
from imagegen_openai import OpenAIBackend
from imagegen_testing.emulator import Fault, ReplicateEmulator, Route
from imagegen_testing.openai_emulator import OpenAIEmulator, OpenAIFault
from reliability import evidence, subjects
from reliability.bots import Bot
from reliability.figures import Figure

__all__ = ["ECHO", "run_echo_scenario", "run_openai_echo_scenario", "secret_figures"]

SECTION = "secrets"
ECHO = f"upstream failed; the request had Authorization: Bearer {subjects.CANARY}"
"""What an echoing proxy puts in its error body."""
OUTCOME_TIMEOUT = 30.0


async def run_echo_scenario() -> None:
    """Prompts whose failures carry the token back, through the service and the CLI."""
    async with subjects.emulator() as emu, aiohttp.ClientSession() as session:
        emu.max_sync_wait = 0.0  # every create answers at once, so the client polls
        async with Bot(subjects.replicate_service(emu, session)) as bot:
            scripts = [
                [Fault.http_error(503, detail=ECHO, route=Route.PREDICTIONS_GET)],  # retried
                [Fault.http_error(422, detail=ECHO)],  # refused: an error frame
                [Fault.http_error(500, detail=ECHO)] * 8,  # past the retry budget
                [Fault.failed_prediction(ECHO)],  # the model's error text
            ]
            await _prompt_under_each(bot, emu, scripts)
        with tempfile.TemporaryDirectory(prefix="imagegen-secrets-") as folder:
            for faults in ([], [Fault.http_error(422, detail=ECHO)]):
                for fault in faults:
                    emu.script(fault)
                argv = subjects.cli_generate(emu.base_url, "an echoed token", Path(folder))
                _, output = await subjects.run_cli(["-vv", *argv])
                evidence.keep_log(output)
            evidence.keep_files(Path(folder))


async def run_openai_echo_scenario() -> None:
    """The same temptation on the OpenAI emulator, through the generic Pipecat service."""
    async with OpenAIEmulator(api_key=subjects.CANARY) as emu, aiohttp.ClientSession() as session:
        backend = OpenAIBackend(
            {"api_key": subjects.CANARY, "base_url": emu.base_url, "retry_initial_backoff": 0.01},
            session=session,
        )
        scripts = [
            [OpenAIFault.http_error(500, message=ECHO)],  # retried
            [OpenAIFault.http_error(400, message=ECHO)],  # refused: an error frame
            [OpenAIFault.http_error(503, message=ECHO)] * 8,  # past the retry budget
            [OpenAIFault.stream_error()],
        ]
        async with Bot(BackendImageGenService(backend=backend, aiohttp_session=session)) as bot:
            await _prompt_under_each(bot, emu, scripts)


async def _prompt_under_each(
    bot: Bot, emu: ReplicateEmulator | OpenAIEmulator, scripts: Sequence[Sequence[Any]]
) -> None:
    """One prompt under each script of faults, each finished with before the next."""
    for faults in scripts:
        for fault in faults:
            emu.script(fault)
        await bot.ask("an echoed token", within=OUTCOME_TIMEOUT)
        await bot.settle(within=OUTCOME_TIMEOUT)
        emu.faults.clear()


def secret_figures(found: evidence.Collection, secret: str = subjects.CANARY) -> list[Figure]:
    """Search ``found`` (and ``os.environ``) for ``secret``; return the section's figures."""

    def figure(name: str, value: float, expected: float | None = None) -> Figure:
        return Figure(SECTION, name, value, "", expected)

    frames = [f"{frame}\n{getattr(frame, 'error', '')}" for frame in found.error_frames]
    chains = [getattr(frame, "exception", None) for frame in found.error_frames]
    exceptions = [e for e in [*found.exceptions, *chains] if isinstance(e, BaseException)]
    environ = [f"{name}={value}" for name, value in os.environ.items()]
    return [
        figure("log records searched (TRACE)", found.log_records),
        figure("error frames searched", len(found.error_frames)),
        figure("exceptions searched (chains, frame locals)", len(exceptions)),
        figure("files searched", len(found.files)),
        figure("canary in logs", found.logs.getvalue().count(secret), 0),
        figure("canary in error frames", sum(secret in text for text in frames), 0),
        figure(
            "canary in exception chains",
            sum(secret in evidence.rendered_chain(e) for e in exceptions),
            0,
        ),
        figure("canary in reprs", sum(secret in text for text in found.reprs), 0),
        figure(
            "canary in files written",
            sum(secret.encode() in data for data in found.files.values()),
            0,
        ),
        figure("canary in os.environ", sum(secret in text for text in environ), 0),
    ]
