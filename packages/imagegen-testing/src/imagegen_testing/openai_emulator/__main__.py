"""``python -m imagegen_testing.openai_emulator`` / ``imagegen-openai-emulator``: run it.

For trying an app, the CLI or the examples without an OpenAI account: point
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` at what this prints. Loopback only
unless ``--host`` says otherwise, and then with a warning.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from contextlib import suppress

from imagegen_testing.emulator.__main__ import host_warning
from imagegen_testing.openai_emulator.server import EMULATOR_API_KEY, OpenAIEmulator

__all__ = ["build_parser", "main"]


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="imagegen-openai-emulator",
        description="Serve OpenAI's Images API locally, with test images.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8788, help="port, 0 for any (default: 8788)")
    parser.add_argument("--key", default=EMULATOR_API_KEY, help="the API key to accept")
    parser.add_argument(
        "--latency", type=_seconds, default=0.0, help="seconds each image takes (previews spread)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


async def _serve(emulator: OpenAIEmulator, *, custom_key: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with emulator:
        key = "(the value given with --key)" if custom_key else emulator.api_key
        print("OpenAI Images API emulator listening")
        print(f"  OPENAI_BASE_URL={emulator.base_url}")
        print(f"  OPENAI_API_KEY={key}")
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
    print("Emulator stopped.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted; the exit status."""
    args = build_parser().parse_args(argv)
    warning = host_warning(args.host)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    emulator = OpenAIEmulator(
        api_key=args.key,
        host=args.host,
        port=args.port,
        latency=args.latency,
        allow_non_loopback=warning is not None,
        access_log=not args.quiet,
    )
    try:
        asyncio.run(_serve(emulator, custom_key=args.key != EMULATOR_API_KEY))
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        print(f"cannot start the emulator: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
