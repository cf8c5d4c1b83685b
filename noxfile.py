"""Every check the project runs, locally and in CI: `uvx nox`.

Sessions install from `uv.lock` so a run is reproducible, except `compat`,
which swaps in the Pipecat releases the core promises to support.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "compat", "quickstart"]

ROOT = Path(__file__).parent
PYTHON = "3.11"
PACKAGES = ("imagegen-core", "imagegen-replicate", "imagegen-testing")
TEST_DIRS = [f"packages/{p}/tests" for p in PACKAGES]

# The Pipecat releases the core is tested against: the oldest supported, the
# first release without the private `_NotGiven` name that broke the old
# Replicate plugin, and whatever is newest when the session runs.
PIPECAT_VERSIONS = {
    "0.0.108": "pipecat-ai==0.0.108",
    "1.8.0": "pipecat-ai==1.8.0",
    "newest": "pipecat-ai<2",
}


def sync(session: nox.Session, *groups: str) -> None:
    """Install the locked workspace plus the given dependency groups into the session."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--no-default-groups",
        *(f"--group={group}" for group in groups),
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff: lint rules and formatting."""
    sync(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Mypy in strict mode over every package, the examples and the benchmarks."""
    sync(session, "typecheck")
    session.run("mypy", *(f"packages/{p}/src" for p in PACKAGES), "examples", "benchmarks")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every package's tests against the locked (newest) Pipecat."""
    sync(session, "dev")
    session.run("pytest", *TEST_DIRS, *session.posargs)


@nox.session(python=PYTHON)
@nox.parametrize("pipecat", list(PIPECAT_VERSIONS))
def compat(session: nox.Session, pipecat: str) -> None:
    """The core and the Replicate service against each supported Pipecat release."""
    sync(session, "dev")
    # Only Pipecat (and whatever it needs changed) moves off the lock, so a
    # failure here is Pipecat's doing, not a newer release of something else.
    session.run_install(
        "uv",
        "pip",
        "install",
        "--upgrade-package=pipecat-ai",
        PIPECAT_VERSIONS[pipecat],
        env={"VIRTUAL_ENV": session.virtualenv.location},
    )
    session.run(
        "python",
        "-c",
        "import pipecat.frames.frames, importlib.metadata as m; "
        "print('pipecat-ai', m.version('pipecat-ai'))",
    )
    session.run("pytest", *TEST_DIRS, *session.posargs)


@nox.session(python=PYTHON)
def quickstart(session: nox.Session) -> None:
    """The README's main job: a prompt becomes image files, on the bundled emulator."""
    sync(session, "dev")
    out = Path(session.create_tmp()) / "quickstart-out"
    env = {"REPLICATE_API_TOKEN": ""} if "REPLICATE_API_TOKEN" in os.environ else {}
    session.run(
        "python",
        "examples/quickstart.py",
        "a lighthouse at dawn, screenprint poster",
        "--out",
        str(out),
        env=env,
    )
    written = sorted(out.glob("*"))
    if not written:
        session.error(f"quickstart wrote no files into {out}")
    session.log(f"quickstart wrote {len(written)} file(s): {', '.join(p.name for p in written)}")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks; each prints ratios against a baseline measured in the same run."""
    sync(session, "dev")
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        session.run("python", str(script.relative_to(ROOT)), *session.posargs)
