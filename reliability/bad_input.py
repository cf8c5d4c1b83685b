"""Bad input: named bad prompts, settings, updates and provider replies, each with its error kind.

Every case goes through the Pipecat service (``ReplicateImageGenService``,
as an app builds it) and, where the command line can express it, through the
``imagegen generate`` CLI, both against the emulator. What must hold: each
case ends in exactly the expected outcome (one error frame, or one failed
command, of the expected :class:`~imagegen_core.ErrorKind`; for the few
replies that must be tolerated, one image), never an uncategorized error, and
the service keeps serving: a good prompt after all of them succeeds.

A provider's reply is untrusted input: the reply cases script the emulator to
answer a create with a body of the case's choosing (:meth:`Fault.malformed_reply`),
or to point its outputs at the stand-in host (:mod:`reliability.stand_in`).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from pipecat.frames.frames import ServiceUpdateSettingsFrame

from imagegen_core import ErrorKind, ImageGenError
from imagegen_core.pipecat import ImageGenUpdateSettingsFrame
from imagegen_replicate import ReplicateImageGenService
from imagegen_testing.emulator import CREATE_ROUTES, Fault, ReplicateEmulator, Route
from reliability import evidence, subjects
from reliability.bots import Bot, Outcome
from reliability.figures import Figure
from reliability.outcomes import error_kind
from reliability.stand_in import StandIn, stand_in_host

__all__ = ["CASES", "Case", "CaseResult", "run_bad_input", "run_cases"]

SECTION = "bad input"
OUTCOME_TIMEOUT = 30.0

Settings = ReplicateImageGenService.Settings
K = ErrorKind
Faults = Callable[[ReplicateEmulator, StandIn], Sequence[Fault]]


@dataclass(frozen=True)
class Case:
    """One named bad input and what it must end in."""

    name: str
    expected: ErrorKind | None
    """The error kind it must end in; ``None``: it must be tolerated (one image, no error)."""
    prompt: str = "a bad-input case"
    settings: dict[str, Any] | None = None
    """``Settings`` fields given at construction (the constructor must refuse them)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """Other constructor parameters (``backend_settings``, ``api_token``...)."""
    update: dict[str, Any] | None = None
    """A runtime update, sent as ``ImageGenUpdateSettingsFrame(delta=Settings(**update))``."""
    mapping_update: dict[str, Any] | None = None
    """A runtime update, sent as Pipecat's ``ServiceUpdateSettingsFrame(settings=...)``."""
    faults: Faults | None = None
    """What the emulator does to the case's requests (scripted just before the prompt)."""
    cli: tuple[str, ...] | None = ()
    """Extra ``imagegen generate`` arguments; ``None``: the CLI cannot express the case."""
    service: bool = True
    """Whether the Pipecat service can express the case."""
    point: int | None = None
    """The issue-9 point whose fix the case needs (documentation for the fast tests)."""
    cli_expected: ErrorKind | str | None = "same"
    """What the CLI must end in, when that differs from :attr:`expected`."""

    def expected_via(self, via: str) -> ErrorKind | None:
        """What the case must end in through ``via`` (``"service"`` or ``"cli"``)."""
        if via == "cli" and not isinstance(self.cli_expected, str):
            return self.cli_expected
        return self.expected

    @property
    def constructs(self) -> bool:
        """Whether the case is refused at construction (no pipeline runs)."""
        return self.settings is not None or bool(self.parameters)


@dataclass(frozen=True)
class CaseResult:
    """What one case ended in, through one way in."""

    case: Case
    via: str
    """``"service"`` or ``"cli"``."""
    kinds: tuple[ErrorKind | None, ...]
    """The kind of each error outcome (``None``: uncategorized)."""
    images: int
    errors: tuple[Any, ...] = ()
    """The error frames or exceptions, for the secrets section to search."""

    @property
    def held(self) -> bool:
        """Whether it ended exactly as the case says."""
        expected = self.case.expected_via(self.via)
        if expected is None:
            return self.images == 1 and not self.kinds
        return self.kinds == (expected,) and self.images == 0


def _prediction(output: Any, *, status: str = "succeeded", **extra: Any) -> str:
    body = {
        "id": "relbadcase0000000000000001",
        "model": "black-forest-labs/flux-schnell",
        "version": "hidden",
        "status": status,
        "input": {"prompt": "a bad-input case"},
        "output": output,
        "error": None,
        "logs": "",
        **extra,
    }
    return json.dumps(body)


def _reply(output: Any, **extra: Any) -> Faults:
    """The create is answered with a prediction whose ``output`` is ``output``."""
    return lambda _emu, _host: [
        Fault.malformed_reply(_prediction(output, **extra), route=CREATE_ROUTES)
    ]


def _body(text: str) -> Faults:
    return lambda _emu, _host: [Fault.malformed_reply(text, route=CREATE_ROUTES)]


def _hosted(name: str) -> Faults:
    """The create succeeds with one output on the stand-in host's route ``name``."""
    return lambda _emu, host: [
        Fault.malformed_reply(_prediction([host.url(name)]), route=CREATE_ROUTES)
    ]


def _always(fault: Fault, times: int = 8) -> Faults:
    """``fault`` on every attempt (more than any retry budget)."""
    return lambda _emu, _host: [fault] * times


CASES: tuple[Case, ...] = (
    # -- prompts -----------------------------------------------------------------------
    Case("empty prompt", K.INVALID_REQUEST, prompt=""),
    Case("blank prompt", K.INVALID_REQUEST, prompt=" \t\n "),
    Case("prompt with a NUL byte (sent escaped)", None, prompt="a fox\x00 in snow"),
    Case("prompt of a million characters", K.INVALID_REQUEST, prompt="fox " * 250_000),
    Case("prompt with a lone surrogate", K.INVALID_REQUEST, prompt="a fox \ud800"),
    # -- settings at construction ------------------------------------------------------
    Case(
        "aspect ratio 7:5",
        K.INVALID_REQUEST,
        settings={"aspect_ratio": "7:5"},
        cli=("--aspect-ratio", "7:5"),
    ),
    Case(
        "aspect ratio 'wide'",
        K.INVALID_REQUEST,
        settings={"aspect_ratio": "wide"},
        cli=("--aspect-ratio", "wide"),
    ),
    Case(
        "aspect ratio as a number",
        K.INVALID_REQUEST,
        settings={"aspect_ratio": 16},
        cli=None,
        point=3,
    ),
    Case("zero images", K.INVALID_REQUEST, settings={"num_outputs": 0}, cli=("-n", "0")),
    Case(
        "five images (flux-schnell: 4)",
        K.INVALID_REQUEST,
        settings={"num_outputs": 5},
        cli=("-n", "5"),
    ),
    Case("negative image count", K.INVALID_REQUEST, settings={"num_outputs": -1}, cli=("-n", "-1")),
    Case(
        "image count as text", K.INVALID_REQUEST, settings={"num_outputs": "2"}, cli=None, point=3
    ),
    Case("seed as text", K.INVALID_REQUEST, settings={"seed": "abc"}, cli=None, point=3),
    Case(
        "output format gif",
        K.INVALID_REQUEST,
        settings={"output_format": "gif"},
        cli=("--format", "gif"),
        point=4,
    ),
    Case(
        "quality 101", K.INVALID_REQUEST, settings={"output_quality": 101}, cli=("--quality", "101")
    ),
    Case("quality -5", K.INVALID_REQUEST, settings={"output_quality": -5}, cli=("--quality", "-5")),
    Case(
        "quality as text", K.INVALID_REQUEST, settings={"output_quality": "high"}, cli=None, point=3
    ),
    Case(
        "model that is not a model name",
        K.INVALID_REQUEST,
        settings={"model": "not a model"},
        cli=("--set", "model=not a model"),
    ),
    Case(
        "megapixels as a number", K.INVALID_REQUEST, settings={"megapixels": 7}, cli=None, point=3
    ),
    Case(
        "steps as text",
        K.INVALID_REQUEST,
        settings={"num_inference_steps": "many"},
        cli=None,
        point=3,
    ),
    Case("image size 0x0", K.INVALID_REQUEST, service=False, cli=("--size", "0x0")),
    Case(
        "unknown backend setting",
        K.INVALID_REQUEST,
        parameters={"backend_settings": {"colour": "red"}},
        cli=("--set", "colour=red"),
    ),
    Case(
        "negative timeout",
        K.INVALID_REQUEST,
        parameters={"backend_settings": {"timeout": -1}},
        cli=("--set", "timeout=-1"),
    ),
    Case(
        "retry budget as text",
        K.INVALID_REQUEST,
        parameters={"backend_settings": {"max_attempts": "lots"}},
        cli=("--set", "max_attempts=lots"),
    ),
    Case(
        "token in backend_settings",
        K.INVALID_REQUEST,
        parameters={"backend_settings": {"api_token": subjects.CANARY}},
        cli=None,
        point=5,
    ),
    Case(
        "sync wait of 0 s",
        K.INVALID_REQUEST,
        parameters={"wait_timeout_secs": 0},
        cli=("--set", "wait_seconds=0"),
    ),
    Case(
        "base URL that is not http",
        K.INVALID_REQUEST,
        parameters={"base_url": "ftp://api.invalid/v1"},
        cli=("--set", "base_url=ftp://x/v1"),
    ),
    # -- settings the provider refuses -------------------------------------------------
    Case(
        "wrong API token",
        K.AUTHENTICATION,
        service=False,
        cli=("--set", "api_token=r8_NotTheCanaryToken000000000000000"),
    ),
    Case(
        "model the provider does not have",
        K.INVALID_REQUEST,
        service=False,
        cli=("--set", "model=nobody/nothing"),
    ),
    # -- runtime updates (both update frames) ------------------------------------------
    Case("update: aspect ratio 7:5", K.INVALID_REQUEST, update={"aspect_ratio": "7:5"}, cli=None),
    Case("update: nine images", K.INVALID_REQUEST, update={"num_outputs": 9}, cli=None),
    Case(
        "update: image count as text",
        K.INVALID_REQUEST,
        update={"num_outputs": "2"},
        cli=None,
        point=3,
    ),
    Case(
        "update: output format gif",
        K.INVALID_REQUEST,
        update={"output_format": "gif"},
        cli=None,
        point=4,
    ),
    Case(
        "update: model that is not a model name",
        K.INVALID_REQUEST,
        update={"model": "not a model"},
        cli=None,
    ),
    Case(
        "settings frame: aspect ratio 'wide'",
        K.INVALID_REQUEST,
        mapping_update={"aspect_ratio": "wide"},
        cli=None,
    ),
    Case(
        "settings frame: seed as text",
        K.INVALID_REQUEST,
        mapping_update={"seed": "abc"},
        cli=None,
        point=3,
    ),
    Case(
        "settings frame: quality as text",
        K.INVALID_REQUEST,
        mapping_update={"output_quality": "high"},
        cli=None,
        point=3,
    ),
    # -- provider replies --------------------------------------------------------------
    Case("reply that is not JSON", K.SERVER, faults=_body("<html>oops</html>")),
    Case("reply without an id", K.SERVER, faults=_body('{"unexpected": true}')),
    Case("reply that is a JSON array", K.SERVER, faults=_body("[]")),
    Case("unknown prediction status", K.SERVER, faults=_reply(None, status="exploded")),
    Case(
        "prediction id with a path in it",
        K.SERVER,
        faults=_reply(None, status="starting", id="../../v1/account"),
    ),
    Case("output that is a number", K.SERVER, faults=_reply(42)),
    Case(
        "300 outputs for one image asked",
        None,
        point=7,
        faults=lambda _emu, host: [
            Fault.malformed_reply(_prediction([host.url("image.webp")] * 300), route=CREATE_ROUTES)
        ],
    ),
    # Never a real metadata address (169.254.169.254): a test must not reach one.
    Case(
        "output on another loopback address",
        K.SERVER,
        point=7,
        faults=lambda _emu, host: [
            Fault.malformed_reply(
                _prediction([f"{host.other_loopback}/files/image.webp"]), route=CREATE_ROUTES
            )
        ],
    ),
    Case("output that is a file:// URL", K.SERVER, faults=_reply(["file:///etc/passwd"])),
    Case("output redirecting to file://", K.SERVER, faults=_hosted("redirect-file"), point=6),
    Case("output redirecting to ftp://", K.SERVER, faults=_hosted("redirect-ftp"), point=6),
    Case("output in a redirect loop", K.SERVER, faults=_hosted("loop"), point=6),
    Case("output URL that is gone (404)", K.SERVER, faults=_hosted("missing.png")),
    Case("output that is a web page", K.SERVER, faults=_hosted("page.png")),
    Case(
        "output that is a decompression bomb",
        K.INVALID_REQUEST,
        faults=_hosted("bomb.png"),
    ),
    Case(
        "output that no decoder reads",
        K.SERVER,
        faults=lambda _e, _h: [Fault.corrupt_image()],
    ),
    Case(
        "download cut short on every try",
        K.CONNECTIVITY,
        faults=_always(Fault.truncated_download()),
    ),
    Case("prediction failed", K.SERVER, faults=lambda _e, _h: [Fault.failed_prediction("OOM")]),
    Case(
        "image withheld by the safety checker",
        K.CONTENT_POLICY,
        faults=lambda _e, _h: [Fault.nsfw()],
    ),
    Case(
        "input refused (422)",
        K.INVALID_REQUEST,
        faults=lambda _e, _h: [Fault.http_error(422, detail="prompt: too long")],
    ),
    Case(
        "throttled past the retry budget",
        K.RATE_LIMIT,
        faults=_always(Fault.rate_limited(retry_after=0.01)),
    ),
    Case(
        "proxy error page past the retry budget",
        K.SERVER,
        faults=_always(Fault.http_error(502, html=True)),
    ),
    Case(
        "polls that never answer sense",
        K.SERVER,
        faults=lambda _e, _h: [
            Fault.malformed_reply(_prediction(None, status="starting"), route=CREATE_ROUTES),
            Fault.malformed_reply("{}", route=Route.PREDICTIONS_GET),
        ],
    ),
)
"""Every named case; :func:`run_bad_input` runs them all."""

_CLI_KIND = re.compile(r"^imagegen: error: (?:\[\w+\] )?(\w+): ", re.MULTILINE)


async def _service_results(
    emu: ReplicateEmulator, host: StandIn, cases: Sequence[Case]
) -> tuple[list[CaseResult], bool]:
    """Run the service's cases; return their results and whether it served a good prompt last."""
    results: list[CaseResult] = []
    async with aiohttp.ClientSession() as session:
        for case in (c for c in cases if c.service and c.constructs):
            settings = Settings(**{"megapixels": subjects.SMALL_IMAGES, **(case.settings or {})})
            try:
                subjects.replicate_service(emu, session, settings=settings, **case.parameters)
            except ImageGenError as error:
                evidence.keep(error)
                results.append(CaseResult(case, "service", (error.kind,), 0, (error,)))
            except Exception as error:
                evidence.keep(error)
                results.append(CaseResult(case, "service", (None,), 0, (error,)))
            else:
                results.append(CaseResult(case, "service", (), 0))
        async with Bot(subjects.replicate_service(emu, session)) as bot:
            for case in (c for c in cases if c.service and not c.constructs):
                results.append(await _through_pipeline(emu, host, bot, case))
            last = await bot.ask("a good prompt after every bad one", within=OUTCOME_TIMEOUT)
    return results, len(last.images) == 1 and not last.errors


async def _through_pipeline(
    emu: ReplicateEmulator, host: StandIn, bot: Bot, case: Case
) -> CaseResult:
    outcomes: list[Outcome] = []
    if case.update is not None:
        delta = Settings(**case.update)
        outcomes.append(await bot.track(ImageGenUpdateSettingsFrame(delta=delta), case.name))
    if case.mapping_update is not None:
        frame = ServiceUpdateSettingsFrame(settings=case.mapping_update, service=bot.service)
        outcomes.append(await bot.track(frame, case.name))
    await bot.settle(within=OUTCOME_TIMEOUT)
    if outcomes:  # the prompt after a refused update must work with the old settings
        after = await bot.ask(f"after {case.name}", within=OUTCOME_TIMEOUT)
        await bot.settle(within=OUTCOME_TIMEOUT)
        kinds = tuple(error_kind(f) for o in outcomes for f in o.errors)
        images = sum(len(o.images) for o in outcomes)
        if after.errors or len(after.images) != 1:
            kinds += tuple(error_kind(f) for f in after.errors) or (None,)
        errors = tuple(f for o in [*outcomes, after] for f in o.errors)
        await _restore(bot, case)
        return CaseResult(case, "service", kinds, images, errors)
    for fault in case.faults(emu, host) if case.faults else ():
        emu.script(fault)
    outcome = await bot.ask(case.prompt, within=OUTCOME_TIMEOUT)
    await bot.settle(within=OUTCOME_TIMEOUT)  # every outcome of the prompt is in
    emu.faults.clear()
    kinds = tuple(error_kind(frame) for frame in outcome.errors)
    return CaseResult(case, "service", kinds, len(outcome.images), tuple(outcome.errors))


async def _restore(bot: Bot, case: Case) -> None:
    """Put back what an update case changed, in case it was (wrongly) accepted.

    Cases stay independent that way: one accepted bad update must not make
    every later case fail.
    """
    defaults = bot.service.default_settings()
    changed = {**(case.update or {}), **(case.mapping_update or {})}
    delta = Settings(**{name: getattr(defaults, name) for name in changed})
    await bot.track(ImageGenUpdateSettingsFrame(delta=delta), f"restore {case.name}")
    await bot.settle(within=OUTCOME_TIMEOUT)


async def _cli_results(
    emu: ReplicateEmulator, host: StandIn, cases: Sequence[Case], out: Path
) -> list[CaseResult]:
    results = []
    for number, case in enumerate(c for c in cases if c.cli is not None):
        for fault in case.faults(emu, host) if case.faults else ():
            emu.script(fault)
        folder = out / f"case-{number}"
        argv = subjects.cli_generate(emu.base_url, case.prompt, folder, *(case.cli or ()))
        status, text = await subjects.run_cli(argv)
        emu.faults.clear()
        evidence.keep_log(text)
        images = len(list(folder.glob("*"))) if folder.is_dir() else 0
        found = _CLI_KIND.search(text)
        kind = ErrorKind(found.group(1)) if found and found.group(1) in set(K) else None
        kinds = () if status == 0 else (kind,)
        results.append(CaseResult(case, "cli", kinds, images, (text,)))
    return results


async def run_cases(cases: Sequence[Case] = CASES) -> tuple[list[CaseResult], bool]:
    """Run ``cases`` through the service and the CLI.

    Returns:
        Every result, and whether the service still served a good prompt afterwards.
    """
    async with subjects.emulator() as emu, stand_in_host() as host:
        service, serving = await _service_results(emu, host, cases)
        with tempfile.TemporaryDirectory(prefix="imagegen-reliability-") as out:
            cli = await _cli_results(emu, host, cases, Path(out))
            evidence.keep_files(Path(out))
    return service + cli, serving


async def run_bad_input(cases: Sequence[Case] = CASES) -> list[Figure]:
    """Run every case; return the section's figures."""
    results, serving = await run_cases(cases)
    return bad_input_figures(results, serving)


def bad_input_figures(results: Sequence[CaseResult], serving: bool) -> list[Figure]:
    """The figures of a set of case results."""

    def figure(name: str, value: float, expected: float | None = None) -> Figure:
        return Figure(SECTION, name, value, "", expected)

    rows = []
    for via in ("service", "cli"):
        mine = [r for r in results if r.via == via]
        label = "Pipecat service" if via == "service" else "CLI"
        rows += [
            figure(f"cases through the {label}", len(mine)),
            figure(f"{label}: not the expected outcome", sum(not r.held for r in mine), 0),
            figure(f"{label}: uncategorized errors", sum(None in r.kinds for r in mine), 0),
        ]
    rows.append(figure("service not serving afterwards", 0 if serving else 1, 0))
    return rows
