"""``python -m imagegen_testing.emulator`` / ``imagegen-replicate-emulator``: run the emulator.

For trying an app or the examples without a Replicate account: point the
client's base URL and token at what this prints. Loopback only unless
``--host`` says otherwise, and then with a warning, because anyone who can
reach the port can use the well-known token.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from contextlib import suppress
from typing import TextIO

from imagegen_testing.emulator.faults import Latency
from imagegen_testing.emulator.server import EMULATOR_API_TOKEN, ReplicateEmulator, is_loopback

__all__ = ["build_parser", "host_warning", "main"]


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="imagegen-replicate-emulator",
        description="Serve Replicate's prediction API for flux-schnell locally, with test images.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8787, help="port to bind, 0 for any free one (default: 8787)"
    )
    parser.add_argument(
        "--token",
        default=EMULATOR_API_TOKEN,
        help="the API token to accept (default: a fixed fake one)",
    )
    parser.add_argument(
        "--queue-time", type=_seconds, default=0.0, help="seconds a prediction stays 'starting'"
    )
    parser.add_argument(
        "--predict-time", type=_seconds, default=0.0, help="seconds a prediction runs"
    )
    parser.add_argument(
        "--upload-time", type=_seconds, default=0.0, help="seconds outputs show before 'succeeded'"
    )
    parser.add_argument(
        "--download-time", type=_seconds, default=0.0, help="seconds each file takes to download"
    )
    parser.add_argument("--data-urls", action="store_true", help="sync replies carry data: URLs")
    parser.add_argument(
        "--min-cancel-after", type=_seconds, default=5.0, help="shortest Cancel-After accepted"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for ids and random image seeds"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def host_warning(host: str) -> str | None:
    """The warning to print before binding ``host``, if it is not loopback."""
    if is_loopback(host):
        return None
    return (
        f"WARNING: binding {host}, which is not loopback: anyone who can reach this port "
        "can use the emulator's well-known token."
    )


async def _serve(emulator: ReplicateEmulator, *, custom_token: bool, out: TextIO) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with emulator:
        token = "(the value given with --token)" if custom_token else emulator.api_token
        print("Replicate API emulator listening", file=out)
        print(f"  base URL: {emulator.base_url}", file=out)
        print(f"  token:    {token}", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        await stop.wait()
    print("Emulator stopped.", file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted; the exit status."""
    args = build_parser().parse_args(argv)
    warning = host_warning(args.host)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    emulator = ReplicateEmulator(
        api_token=args.token,
        host=args.host,
        port=args.port,
        latency=Latency(
            queue=args.queue_time,
            predict=args.predict_time,
            upload=args.upload_time,
            download=args.download_time,
        ),
        data_urls=args.data_urls,
        min_cancel_after=args.min_cancel_after,
        seed=args.seed,
        allow_non_loopback=warning is not None,
        access_log=not args.quiet,
    )
    try:
        asyncio.run(_serve(emulator, custom_token=args.token != EMULATOR_API_TOKEN, out=sys.stdout))
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        print(f"cannot start the emulator: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
