"""The ``imagegen`` command: list backends, show a backend's settings schema, generate images.

It drives backends directly, without Pipecat, so a backend can be tried (and
an installation checked) from a shell. It is built on :mod:`argparse` rather
than click or typer on purpose: ``imagegen-core`` is installed by every Pipecat
app that uses imagegen, and a command-line convenience must not add a
dependency to all of them.

Failures a user can cause or fix (a missing backend, bad settings, a rejected
key, a provider outage) end the command with one line on stderr and exit
status 1, never a traceback; the messages are the library's own, which never
carry credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from imagegen_core._addresses import AddressPolicy
from imagegen_core._backend import Generation, ImageBackend
from imagegen_core._capabilities import Capabilities, ratio_sort_key
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._progress import GenerationProgress
from imagegen_core._request import ImageRequest
from imagegen_core._results import GeneratedImage
from imagegen_core._session import SessionOwner
from imagegen_core._validation import describe_validation
from imagegen_core.cli._files import prompt_stem, write_image
from imagegen_core.cli._progress import ProgressDisplay, progress_display, ticking
from imagegen_core.cli._version import VersionAction
from imagegen_core.pixels import decode_off_loop
from imagegen_core.plugins import (
    BackendInfo,
    PluginError,
    available_backends,
    create_backend,
    load_backend_class,
)

if TYPE_CHECKING:
    import aiohttp

__all__ = ["build_parser", "describe_capabilities", "main"]

PROG = "imagegen"

_log = logging.getLogger("imagegen")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when None.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    with _stderr_logging(args.verbose, quiet_plugins=command is _backends):
        try:
            return command(args)
        except PluginError as exc:
            return _fail(_with_usage(exc, args))
        except ImageGenError as exc:
            return _fail(str(exc))
        except BrokenPipeError:
            # The reader went away (`imagegen schema fake | head`): not an error
            # of ours. Point stdout at devnull so the interpreter's final flush
            # does not complain again.
            _silence_stdout()
            return 1
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            return _fail(f"cannot write{where}: {exc.strerror or exc}")
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``imagegen`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Generate images with any installed imagegen backend, without Pipecat.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    parser.add_argument(
        "--version",
        action=VersionAction,
        help="print the versions of imagegen-core and of every installed backend, then exit",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    backends = commands.add_parser(
        "backends", help="list installed backends, their capabilities and load errors"
    )
    backends.add_argument("--json", action="store_true", help="print JSON instead of a table")
    backends.add_argument(
        "--strict", action="store_true", help="fail if any backend plugin fails to load"
    )
    backends.set_defaults(command=_backends)

    schema = commands.add_parser("schema", help="print a backend's settings as JSON schema")
    schema.add_argument(
        "name", nargs="?", help="backend name (default: $IMAGEGEN_BACKEND or the only one)"
    )
    schema.set_defaults(command=_schema, usage="imagegen schema {name}")

    generate = commands.add_parser(
        "generate",
        help="generate images and write them to files",
        description="Generate images for PROMPT and write each to --out as soon as it is "
        "ready, printing its path. Warnings go to stderr.",
    )
    _add_generate_arguments(generate)
    generate.set_defaults(command=_generate, usage='imagegen generate "PROMPT" --backend {name}')
    return parser


def _add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="what the image should show")
    parser.add_argument(
        "--backend", "-b", help="backend name (default: $IMAGEGEN_BACKEND or the only one)"
    )
    _add_assignments(
        parser,
        "--set",
        "settings",
        "a backend setting (see `imagegen schema`); repeatable. Values are text that "
        "the backend converts; a value starting with [ or { is read as JSON",
    )
    parser.add_argument("-n", "--num-images", type=int, help="how many images")
    parser.add_argument("--negative-prompt", help="what the image should not show")
    parser.add_argument("--aspect-ratio", help="W:H, e.g. 16:9")
    parser.add_argument("--size", help="WIDTHxHEIGHT, e.g. 1024x768")
    parser.add_argument("--seed", type=int, help="seed for reproducible output")
    parser.add_argument("--format", dest="output_format", help="png, jpeg or webp")
    parser.add_argument("--quality", type=int, help="encoder quality, 0-100")
    _add_assignments(
        parser,
        "--option",
        "options",
        "a backend-specific input passed through unchanged; repeatable. The value is "
        "read as JSON when it parses (4, true, [1,2]), else as text",
    )
    parser.add_argument(
        "--out", "-o", type=Path, default=Path(), help="folder for the images (default: .)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail instead of ignoring unsupported settings"
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        help="largest image downloaded from a URL output, in bytes (default: 50 MiB)",
    )


def _add_assignments(parser: argparse.ArgumentParser, flag: str, dest: str, help: str) -> None:
    parser.add_argument(
        flag,
        dest=dest,
        action="append",
        type=_assignment,
        default=[],
        metavar="KEY=VALUE",
        help=help,
    )


def _assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _setting_value(value: str) -> Any:
    # Settings models convert text to their field types ("4" -> 4, "true" ->
    # True); only structured values need JSON.
    if value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _option_value(value: str) -> Any:
    # Options have no schema to convert text, and go to the provider as typed.
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (captured in tests); nothing to silence


def _with_usage(error: PluginError, args: argparse.Namespace) -> str:
    """The error, plus how to name a backend on *this* command when several are installed."""
    usage: str | None = getattr(args, "usage", None)
    if not error.choices or usage is None:
        return str(error)
    return f"{error}; here: `{usage.format(name=error.choices[0])}`"


def _fail(message: str) -> int:
    one_line = re.sub(r"\s*\n\s*", "; ", message.strip())
    print(f"{PROG}: error: {one_line}", file=sys.stderr)
    return 1


# -- logging -----------------------------------------------------------------------


@contextmanager
def _stderr_logging(verbosity: int, *, quiet_plugins: bool) -> Iterator[None]:
    """Send the ``imagegen`` logger to stderr for one command, then restore it.

    Restoring matters when :func:`main` is called in-process (tests, scripts):
    the CLI must not leave handlers or levels behind.
    """
    levels = {0: logging.ERROR if quiet_plugins else logging.WARNING, 1: logging.INFO}
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    saved = (_log.level, _log.propagate)
    _log.setLevel(levels.get(verbosity, logging.DEBUG))
    _log.propagate = False
    _log.addHandler(handler)
    try:
        yield
    finally:
        _log.removeHandler(handler)
        _log.setLevel(saved[0])
        _log.propagate = saved[1]


# -- imagegen backends -----------------------------------------------------------------


def describe_capabilities(capabilities: Capabilities) -> str:
    """A one-line summary of what a backend honours, for people."""
    parts = [f"up to {capabilities.max_images_per_call} image(s) per call"]
    ratios = capabilities.aspect_ratios
    if ratios is None:
        parts.append("any aspect ratio")
    elif ratios:
        parts.append("aspect ratios " + " ".join(_sorted_ratios(ratios)))
    else:
        parts.append("no aspect ratio setting")
    features = [
        label
        for supported, label in (
            (capabilities.supports_size, "size"),
            (capabilities.supports_seed, "seed"),
            (capabilities.supports_negative_prompt, "negative prompt"),
            (capabilities.supports_quality, "quality"),
        )
        if supported
    ]
    if features:
        parts.append(", ".join(features))
    if capabilities.max_input_images:
        roles = ", ".join(sorted(role.value for role in capabilities.input_roles))
        mask = " and a mask" if capabilities.supports_mask else ""
        parts.append(f"up to {capabilities.max_input_images} input image(s) ({roles}){mask}")
    formats = sorted(f.value for f in capabilities.output_formats)
    parts.append("formats " + ", ".join(formats) if formats else "format chosen by backend")
    return "; ".join(parts)


def _sorted_ratios(ratios: frozenset[str]) -> list[str]:
    return sorted(ratios, key=ratio_sort_key)


def _info_json(info: BackendInfo) -> dict[str, Any]:
    capabilities: dict[str, Any] | None = None
    if info.capabilities is not None:
        capabilities = info.capabilities.model_dump(mode="json")
        if info.capabilities.aspect_ratios is not None:
            capabilities["aspect_ratios"] = _sorted_ratios(info.capabilities.aspect_ratios)
        capabilities["output_formats"] = sorted(capabilities["output_formats"])
    backend_class = info.backend_class
    return {
        "name": info.name,
        "distribution": info.distribution,
        "version": info.version,
        "module": info.module,
        "class": None
        if backend_class is None
        else f"{backend_class.__module__}.{backend_class.__qualname__}",
        "loaded": info.loaded,
        "capabilities": capabilities,
        "error": info.error,
        "warnings": list(info.warnings),
        "test_only": info.test_only,
    }


def _backends(args: argparse.Namespace) -> int:
    # Test doubles are listed (last, marked) so `--backend fake` is discoverable,
    # though nothing selects them unless named.
    infos = available_backends(strict=True if args.strict else None, include_test_backends=True)
    if args.json:
        print(json.dumps([_info_json(info) for info in infos], indent=2))
        return 0
    if not infos:
        print("no imagegen backends are installed (or all are switched off)", file=sys.stderr)
        return 0
    width = max(len(info.name) for info in infos)
    for info in infos:
        origin = f"{info.distribution} {info.version}".strip()
        summary = describe_capabilities(info.capabilities) if info.capabilities else "-"
        status = "" if info.loaded else "  [not loaded]"
        if info.test_only:
            status += "  [test double: used only when named]"
        print(f"{info.name:<{width}}  {origin}{status}")
        print(f"{'':<{width}}  {summary}")
        if info.error is not None:
            print(f"{'':<{width}}  error: {info.error}")
        for warning in info.warnings:
            print(f"{'':<{width}}  warning: {warning}")
    return 0


# -- imagegen schema ----------------------------------------------------------------------


def _schema(args: argparse.Namespace) -> int:
    backend_class = load_backend_class(args.name)
    print(json.dumps(backend_class.settings_schema(), indent=2))
    return 0


# -- imagegen generate ----------------------------------------------------------------------


def _request(args: argparse.Namespace) -> ImageRequest:
    fields: dict[str, Any] = {
        "prompt": args.prompt,
        "options": {key: _option_value(value) for key, value in args.options},
    }
    for name in (
        "num_images",
        "negative_prompt",
        "aspect_ratio",
        "size",
        "seed",
        "output_format",
        "quality",
    ):
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    try:
        return ImageRequest(**fields)
    except ValidationError as exc:
        detail = describe_validation(exc, "request")
        raise ImageGenError(detail, kind=ErrorKind.INVALID_REQUEST) from None


def _generate(args: argparse.Namespace) -> int:
    if args.max_bytes is not None and args.max_bytes < 1:
        return _fail("--max-bytes must be positive")
    request = _request(args)
    settings = {key: _setting_value(value) for key, value in args.settings}
    backend = create_backend(args.backend, settings)
    args.out.mkdir(parents=True, exist_ok=True)
    written = asyncio.run(_run(backend, request, args))
    if not written:
        return _fail("the backend returned no images")
    return 0


async def _run(backend: ImageBackend[Any], request: ImageRequest, args: argparse.Namespace) -> int:
    """Generate, writing and printing each image as it arrives; return how many were written."""
    stem = prompt_stem(request.prompt)
    written = 0
    async with backend, _Downloader(args.max_bytes, backend.address_policy()) as downloader:
        generation = backend.generate(request, strict=args.strict)
        progress = progress_display(sys.stderr, status=f"generating with {backend.name}", prog=PROG)
        _print_new_warnings(generation, progress)
        async with ticking(progress):
            async for event in generation.events():
                _print_new_warnings(generation, progress)
                if isinstance(event, GenerationProgress):
                    # Previews are progress, never results: shown, not saved.
                    progress.show(event)
                    continue
                data, media_type = await downloader.content(event)
                # A provider's bytes are untrusted: only a file that decodes as
                # an image within the pixel cap is saved, as the service does
                # before it makes a frame (a web page or a bomb is an error).
                await decode_off_loop(data)
                path = write_image(args.out, stem, data, media_type)
                progress.clear()
                print(path, flush=True)
                written += 1
        _print_new_warnings(generation, progress)
    return written


def _print_new_warnings(generation: Generation, progress: ProgressDisplay) -> None:
    for warning in generation.unreported_warnings():
        progress.clear()
        print(f"{PROG}: warning: {warning}", file=sys.stderr)


class _Downloader:
    """Fetches URL outputs with one aiohttp session, opened only if a URL arrives."""

    def __init__(self, max_bytes: int | None, addresses: AddressPolicy) -> None:
        self._max_bytes = max_bytes
        self._addresses = addresses
        self._sessions = SessionOwner(user="the imagegen command", connector=self._connector)

    def _connector(self) -> aiohttp.BaseConnector:
        from imagegen_core._downloads import guarded_connector

        return guarded_connector(self._addresses)

    async def __aenter__(self) -> _Downloader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._sessions.aclose()

    async def content(self, image: GeneratedImage) -> tuple[bytes, str | None]:
        """The image's bytes and media type, downloading them if it is a link."""
        # Imported here: aiohttp is needed only for images, so `imagegen backends` stays quick.
        from imagegen_core._downloads import (
            DEFAULT_MAX_DOWNLOAD_BYTES,
            download,
            refuse_oversized_inline,
        )

        limit = DEFAULT_MAX_DOWNLOAD_BYTES if self._max_bytes is None else self._max_bytes
        if image.data is not None:
            # The same cap as for links: inline is no way around it.
            refuse_oversized_inline(image.data, limit, image.index)
            return image.data, image.media_type
        assert image.url is not None  # a GeneratedImage holds data or a url
        fetched = await download(
            self._sessions.get(), image.url, max_bytes=limit, addresses=self._addresses
        )
        return fetched.data, image.media_type or fetched.media_type
