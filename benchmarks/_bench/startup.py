"""Start-up: importing each package, listing 20 installed backends, selecting one by name.

Each figure is taken in a fresh interpreter (an import is only slow once),
timed inside it around the one statement, and compared with importing the
core's own dependencies (aiohttp, pydantic, pluggy, Pillow) in the same run.
Twenty backends are "installed" by writing twenty distributions (a
``.dist-info`` with an entry point, and a plugin module each) into a folder put
on ``PYTHONPATH``; selecting one by name must import that plugin's module and
no other, which the selecting interpreter checks in its own ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

__all__ = ["BACKENDS", "measure_startup"]

BACKENDS = 20
BASELINE = "import aiohttp, pydantic, pluggy, PIL.Image"

STATEMENTS = {
    "core dependencies (baseline)": BASELINE,
    "import imagegen_core": "import imagegen_core",
    "import imagegen_replicate": "import imagegen_replicate",
    "import imagegen_openai": "import imagegen_openai",
    "import imagegen_core.pipecat": "import imagegen_core.pipecat",
    f"list {BACKENDS} installed backends": (
        "from imagegen_core.plugins import available_backends; available_backends()"
    ),
    "select one by name": (
        "from imagegen_core.plugins import create_backend; create_backend('bench07')"
    ),
}
"""What is timed; the two plugin rows run after ``import imagegen_core``, so they count
only the finding and loading."""

_PRELUDE = {
    f"list {BACKENDS} installed backends": "import imagegen_core.plugins",
    "select one by name": "import imagegen_core.plugins",
}

_PLUGIN = textwrap.dedent(
    '''
    """Benchmark backend {n:02d}: one of twenty, to time listing and selection."""
    from collections.abc import AsyncIterator
    from typing import Callable

    from imagegen_core import (
        BackendSettings, Capabilities, GeneratedImage, ImageBackend, ImageRequest
    )
    from imagegen_core.plugins import hookimpl


    class Backend(ImageBackend[BackendSettings]):
        name = "bench{n:02d}"
        settings_model = BackendSettings

        @property
        def capabilities(self) -> Capabilities:
            return Capabilities()

        async def _generate(self, request: ImageRequest) -> AsyncIterator[GeneratedImage]:
            yield GeneratedImage(data=b"", media_type="image/png")


    @hookimpl
    def imagegen_register_backends(register: Callable[[type], None]) -> None:
        register(Backend)
    '''
)


def _install_backends(folder: Path) -> None:
    for n in range(BACKENDS):
        module = f"imagegen_bench_backend_{n:02d}"
        (folder / f"{module}.py").write_text(_PLUGIN.format(n=n))
        info = folder / f"imagegen_bench_backend_{n:02d}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: imagegen-bench-backend-{n:02d}\nVersion: 1.0\n"
        )
        (info / "entry_points.txt").write_text(f"[imagegen.backends]\nbench{n:02d} = {module}\n")


def _time_once(statement: str, prelude: str, env: dict[str, str]) -> tuple[float, list[str]]:
    script = textwrap.dedent(
        f"""
        import json, sys, time
        {prelude}
        started = time.perf_counter()
        {statement}
        elapsed = time.perf_counter() - started
        loaded = sorted(m for m in sys.modules if m.startswith("imagegen_bench_backend_"))
        print(json.dumps({{"seconds": elapsed, "loaded": loaded}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"timing {statement!r} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), list(result["loaded"])


def measure_startup(*, rounds: int) -> tuple[dict[str, float], list[str]]:
    """Median seconds of each statement, and the plugin modules selection by name imported."""
    with tempfile.TemporaryDirectory(prefix="imagegen-bench-") as tmp:
        folder = Path(tmp)
        _install_backends(folder)
        path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "IMAGEGEN_BACKEND": ""}
        times: dict[str, list[float]] = {label: [] for label in STATEMENTS}
        selected: list[str] = []
        for _ in range(rounds):
            for label, statement in STATEMENTS.items():
                seconds, loaded = _time_once(statement, _PRELUDE.get(label, ""), env)
                times[label].append(seconds)
                if label == "select one by name":
                    selected = loaded
    return {label: statistics.median(values) for label, values in times.items()}, selected
