"""Run the whole reliability suite and print one table: ``python -m reliability``.

The full run (the default counts) takes three to four minutes on a loaded
two-core machine; ``--quick`` runs the counts of the fast tests in under a
minute. The exit status is 1 when any promise of the table missed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import sys
import time
from datetime import UTC, datetime

from loguru import logger

from reliability import evidence
from reliability.bad_input import run_bad_input
from reliability.figures import Figure, format_table, missed
from reliability.interruptions import InterruptionPlan, run_interruptions
from reliability.plugins import run_plugins
from reliability.secrets import run_echo_scenario, run_openai_echo_scenario, secret_figures
from reliability.soak import SoakPlan, run_soak


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the fast tests' counts")
    parser.add_argument("--prompts", type=int, help="soak prompts (default 2000)")
    parser.add_argument("--pipelines", type=int, help="soak pipelines (default 64)")
    parser.add_argument(
        "--interruptions", type=int, help="interruptions at each of the six moments (default 34)"
    )
    return parser


async def _run(soak: SoakPlan, interruptions: InterruptionPlan) -> list[Figure]:
    figures: list[Figure] = []
    with evidence.collecting() as found:
        figures += await run_soak(soak)
        figures += await run_interruptions(interruptions)
        figures += await run_bad_input()
        await run_echo_scenario()
        await run_openai_echo_scenario()
        figures += await run_plugins()
    return figures + secret_figures(found)


def _machine() -> str:
    pipecat = importlib.metadata.version("pipecat-ai")
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, pipecat-ai {pipecat}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run every section; print the table; return 1 if a promise missed."""
    args = _parser().parse_args(argv)
    soak = SoakPlan(prompts=200, pipelines=16) if args.quick else SoakPlan()
    soak = SoakPlan(
        prompts=args.prompts or soak.prompts, pipelines=args.pipelines or soak.pipelines
    )
    interruptions = InterruptionPlan(per_moment=args.interruptions or (6 if args.quick else 34))
    logger.remove()  # Pipecat's own stderr sink: the run's logs are collected, not shown
    started = time.monotonic()
    print(f"reliability run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_machine()}", flush=True)
    figures = asyncio.run(_run(soak, interruptions))
    print(format_table(figures))
    failed = missed(figures)
    print(f"{len(figures)} figures, {len(failed)} missed, {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
