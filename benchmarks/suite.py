"""The benchmark suite: this project against the minimal client and its peers, in one table.

Everything runs against one fake Replicate API in its own process
(:mod:`_bench.fake_api`: 1024x1024 and 64x64 WebP outputs, sync replies), side
by side in the same run, and every figure is a median of per-round values
divided by the minimal client's median from the same run (or, for start-up,
by importing the core's own dependencies). Only the ratios are meant to be
compared between runs: the machine is shared and absolute times swing.
Two columns split the service's excess between its owners: the core's
service and the core alone, each over a backend as thin as the minimal
client (:mod:`_bench.floor`), so what is left is the Replicate backend's.

Run: ``uvx nox -s bench`` (which also builds the old ``pipecat-replicate``
environment), or ``uv run python benchmarks/suite.py [--rounds N]
[--old-python PATH]`` without the old service's column.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from _bench.clients import BackendClient, OfficialClient, ServiceClient
from _bench.floor import ThinBackendClient, ThinServiceClient
from _bench.long_predictions import PREDICT_SECONDS, Long, measure_long_predictions
from _bench.meters import BENCHMARKS, FakeApi, median
from _bench.minimal import MinimalClient
from _bench.scenarios import (
    CONCURRENCIES,
    FILE_DELAY_MS,
    SIDES,
    STALL_GENERATIONS,
    STALL_OUTPUTS,
    Client,
    Factory,
    measure_clients,
)
from _bench.startup import BACKENDS, measure_startup

COLUMNS = {
    "service": "this project's service",
    "backend": "bare backend",
    "thin-service": "core service, thin backend",
    "thin-backend": "core, thin backend",
    "official": "official `replicate`",
    "old": "old pipecat-replicate",
}
VERSIONED = ("imagegen-core", "imagegen-replicate", "pipecat-ai", "aiohttp", "pillow", "replicate")


def _factories() -> dict[str, Factory]:
    def official(session: aiohttp.ClientSession, api: str) -> Client:
        return OfficialClient(api)  # httpx: it brings its own connections

    return {
        "minimal": MinimalClient,
        "service": ServiceClient,
        "backend": BackendClient,
        "thin-service": ThinServiceClient,
        "thin-backend": ThinBackendClient,
        "official": official,
    }


async def _service_first_image(session: aiohttp.ClientSession, api: str) -> tuple[str, float]:
    return await ServiceClient(session, api).first_image_at()


def _old_results(python: str | None, fake: FakeApi, rounds: int) -> dict[str, Any] | None:
    if python is None:
        return None
    done = subprocess.run(
        [python, "-m", "_bench.old_service", str(fake.port), str(rounds)],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(BENCHMARKS)},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the old service's run failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the table ------------------------------------------------------------------------


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}" if baseline > 0 and value == value else "n/a"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


class _Report:
    def __init__(self, main: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
        self.runs: dict[str, Mapping[str, Any]] = {name: main for name in COLUMNS if name != "old"}
        if old is not None:
            self.runs["old"] = old
        self.lines: list[str] = []

    def columns(self) -> list[str]:
        return [name for name in COLUMNS if name in self.runs]

    def per_image(self, figure: str) -> None:
        names = self.columns()
        label = "wall time per image" if figure == "wall" else "event-loop CPU per image"
        self.lines += [
            "",
            f"{label}, ratio to the minimal client (minimal client's own figure in ms)",
            "",
            _row(["size, concurrency", "minimal (ms)", *(COLUMNS[n] for n in names)]),
            _row(["---"] * (2 + len(names))),
        ]
        for side in SIDES:
            for concurrency in CONCURRENCIES:
                key = f"{side}/{concurrency}"
                base = median(self.runs["service"]["per_image"][key]["minimal"][figure])
                cells = [f"{'1 MP' if side == 1024 else '64 px'}, {concurrency}", _ms(base)]
                for name in names:
                    run = self.runs[name]["per_image"][key]
                    mine = median(run["old" if name == "old" else name][figure])
                    cells.append(_ratio(mine, median(run["minimal"][figure])))
                self.lines.append(_row(cells))

    def stall(self) -> None:
        names = ["minimal", *self.columns()]
        idle = self.runs["service"]["idle"]
        self.lines += [
            "",
            f"event-loop stall of a 5 ms ticker while {STALL_GENERATIONS} generations of "
            f"{STALL_OUTPUTS} 1 MP images run (services already running): worst / p99 lateness "
            "in ms, and throughput as a ratio to the minimal client's; what the garbage "
            "collector did in the window without a collection first: full collections per "
            "round (median), and the longest pause of any collection in ms (worst round)",
            "",
            f"idle floor (the ticker alone): worst {_ms(median(idle['worst']))} ms, "
            f"p99 {_ms(median(idle['p99']))} ms",
            "",
            _row(
                [
                    "client",
                    "gc.collect() first: worst / p99",
                    "throughput",
                    "no collection: worst / p99",
                    "throughput",
                    "full collections / longest pause",
                ]
            ),
            _row(["---"] * 6),
        ]
        for name in names:
            run = self.runs["old" if name == "old" else "service"]["stall"]
            key = name
            cells = [COLUMNS.get(name, "minimal client")]
            for mode in ("gc", "nogc"):
                mine, base = run[mode][key], run[mode]["minimal"]
                cells.append(f"{_ms(median(mine['worst']))} / {_ms(median(mine['p99']))}")
                cells.append(_ratio(median(mine["ips"]), median(base["ips"])))
            nogc = run["nogc"][key]
            # Absent from a run of an older suite's JSON: nothing was counted.
            full, pause = nogc.get("full_gcs", []), nogc.get("gc_pause", [])
            cells.append(f"{median(full):.0f} / {_ms(max(pause, default=float('nan')))}")
            self.lines.append(_row(cells))

    def four_vs_one(self) -> None:
        names = ["minimal", *self.columns()]
        self.lines += [
            "",
            f"four outputs vs one ({FILE_DELAY_MS} ms per file download): time of a four-image "
            "generation / a one-image generation",
            "",
            _row([COLUMNS.get(n, "minimal client") for n in names]),
            _row(["---"] * len(names)),
            _row(
                [
                    f"{median(self.runs['old' if n == 'old' else 'service']['four_vs_one'][n]):.2f}"
                    for n in names
                ]
            ),
        ]

    def long(self, figures: Mapping[str, Long]) -> None:
        ours, fixed = figures["service"], figures["fixed"]
        self.lines += [
            "",
            f"long predictions ({PREDICT_SECONDS} s, sync wait off): medians per prediction",
            "",
            _row(["", "requests", "completion to frame (s)"]),
            _row(["---"] * 3),
            _row([COLUMNS["service"], f"{ours.requests:.0f}", f"{ours.delay:.2f}"]),
            _row(["fixed 0.5 s polling", f"{fixed.requests:.0f}", f"{fixed.delay:.2f}"]),
            _row(
                [
                    "ratio",
                    _ratio(ours.requests, fixed.requests),
                    f"+{ours.delay - fixed.delay:.2f} s",
                ]
            ),
        ]

    def startup(self, times: Mapping[str, float], selected: list[str]) -> None:
        base = times["core dependencies (baseline)"]
        self.lines += [
            "",
            "start-up, each in a fresh interpreter: ms, and ratio to importing the core's "
            "dependencies",
            "",
            _row(["step", "ms", "ratio"]),
            _row(["---"] * 3),
        ]
        for label, seconds in times.items():
            self.lines.append(_row([label, _ms(seconds), _ratio(seconds, base)]))
        verdict = "only that one" if selected == ["imagegen_bench_backend_07"] else f"{selected}"
        self.lines.append(
            f"\nselecting 'bench07' of {BACKENDS} installed backends imported "
            f"plugin modules: {verdict}"
        )


def _header(
    rounds: int, old: Mapping[str, Any] | None, load_at_start: tuple[float, ...]
) -> list[str]:
    versions = []
    for name in VERSIONED:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    old_versions = ", ".join(f"{k} {v}" for k, v in old["versions"].items()) if old else "not run"
    load_now = os.getloadavg()
    return [
        f"imagegen benchmark suite, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {platform.system()} {platform.machine()}, nproc {os.cpu_count()}, "
        f"load average {'/'.join(f'{x:.2f}' for x in load_at_start)} at start, "
        f"{'/'.join(f'{x:.2f}' for x in load_now)} at end",
        f"Python {platform.python_version()}; {', '.join(versions)}",
        f"old service's environment: {old_versions}",
        f"{rounds} rounds, medians of per-round figures; fake Replicate in its own process, "
        "WebP quality 80, fixed seed",
    ]


async def _long(fake: FakeApi) -> dict[str, Long]:
    return await measure_long_predictions(fake, _service_first_image)


def main() -> None:
    """Measure everything and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per figure (default 5)")
    parser.add_argument("--old-python", help="interpreter of the old pipecat-replicate environment")
    parser.add_argument("--skip-long", action="store_true", help="leave out the 45 s predictions")
    args = parser.parse_args()
    _quiet_loggers()
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    with FakeApi.running() as fake:
        main_run = asyncio.run(measure_clients(fake, _factories(), rounds=args.rounds))
        old = _old_results(args.old_python, fake, args.rounds)
        long = None if args.skip_long else asyncio.run(_long(fake))
    times, selected = measure_startup(rounds=args.rounds)
    report = _Report(main_run, old["results"] if old else None)
    report.per_image("wall")
    report.per_image("cpu")
    report.stall()
    report.four_vs_one()
    if long is not None:
        report.long(long)
    report.startup(times, selected)
    print("\n".join(_header(args.rounds, old, load_at_start)))
    print("\n".join(report.lines))
    print(f"\nsuite run time: {time.perf_counter() - started:.0f} s")


def _quiet_loggers() -> None:
    """Pipecat logs every prompt at DEBUG through loguru; the table is the output here."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")


if __name__ == "__main__":
    main()
