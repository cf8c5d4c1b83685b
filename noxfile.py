"""Every check the project runs, locally and in CI: `uvx nox`.

Sessions install from `uv.lock` so a run is reproducible, except those that
install what a user would: `floors` (the lowest declared versions), `compat`
(the built wheels with each Pipecat release the core promises to support, in a
fresh environment), `nopipecat` and `template`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "floors",
    "compat",
    "distributions",
    "nopipecat",
    "template",
    "quickstart",
    "docs",
]

ROOT = Path(__file__).parent
PYTHONS = ["3.11", "3.12", "3.13"]
"""Every Python the packages declare (``requires-python = ">=3.11"``, classifiers 3.11 to 3.13)."""
PYTHON = PYTHONS[0]
"""The one Python of the sessions whose result does not depend on it (lint, types, quick start)."""
PACKAGES = ("imagegen-core", "imagegen-openai", "imagegen-replicate", "imagegen-testing")
# The fast versions of the reliability suite run with every package's tests.
TEST_DIRS = [*(f"packages/{p}/tests" for p in PACKAGES), "tests/reliability"]
DOCS_TESTS = "tests/docs"
# pytest on both cores of the CI machine (pytest-xdist). A fixed 2, not
# `auto`: CI has two cores, and more workers would each import Pipecat and
# start emulators for little gain, since the longest test file (the
# reliability interruptions, whose module fixture runs every case once) bounds
# the run. `--dist loadfile` keeps each test file in one worker, so
# module-scoped fixtures are built once and a file's tests keep their order.
# `uvx nox -s tests -- -n 8` overrides it (the last `-n` wins); `-n 0` runs in
# one process.
PARALLEL = ["--numprocesses=2", "--dist=loadfile"]
# Each example runs with one command and checks its own outcome (exit status
# 0 only when it did what it shows). The quick start has a session of its own.
EXAMPLES = sorted(
    path.relative_to(ROOT).as_posix()
    for path in (ROOT / "examples").glob("*.py")
    if not path.name.startswith("_") and path.name != "quickstart.py"
)

# The Pipecat releases the default `compat` session tests: each is where
# Pipecat's surface changed for us (docs/compatibility.md has the table).
PIPECAT_VERSIONS = {
    "0.0.108": "pipecat-ai==0.0.108",  # the oldest supported
    "1.4.0": "pipecat-ai==1.4.0",  # the first to declare websockets (1.0 to 1.3 need our extra's)
    # NOT_GIVEN in pipecat.utils.types (the private _NotGiven that broke the old
    # Replicate plugin is gone), ErrorCategory, usability, cancel_ttfb_metrics.
    "1.8.0": "pipecat-ai==1.8.0",
    "1.12.0": "pipecat-ai==1.12.0",  # the `interruptible` field; no NLTK
    "newest": "pipecat-ai<2",
}
# Every minor release in the declared range, at its newest patch, for the
# non-default `compat_every_release` session (run before a release, and
# whenever the range changes). Add each new minor release here.
PIPECAT_MINOR_RELEASES = [
    "0.0.108",
    "1.0.0",
    "1.1.0",
    "1.2.1",
    "1.3.0",
    "1.4.0",
    "1.5.0",
    "1.6.0",
    "1.7.0",
    "1.8.1",
    "1.9.0",
    "1.10.0",
    "1.11.0",
    "1.12.0",
    "1.13.0",
    "1.14.0",
]


def _find_pyenv_interpreters() -> None:
    """Let nox find every pyenv-installed Python, not only the active one.

    pyenv's shims run only the versions pyenv has switched on, so
    ``python3.12`` on PATH fails when the global version is 3.11. Appending
    each installed version's ``bin`` to PATH lets nox's interpreter discovery
    skip the dead shim and find the real binary; appending shadows nothing
    already on PATH. Without pyenv this does nothing.
    """
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = [str(path) for path in sorted((root / "versions").glob("3.*/bin")) if path.is_dir()]
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *found])


_find_pyenv_interpreters()


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
    """Mypy in strict mode over every package, the examples, the benchmarks and the docs' code."""
    sync(session, "typecheck")
    session.run(
        "mypy", *(f"packages/{p}/src" for p in PACKAGES), "examples", "benchmarks", "reliability"
    )
    # The Python blocks of README.md and docs/, page by page, with the cache
    # the run above just filled (the `docs` session compiles and runs them).
    session.run("pytest", DOCS_TESTS, "-k", "mypy", "-q")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Every package's tests against the locked (newest) Pipecat, on every declared Python."""
    sync(session, "dev")
    session.run("pytest", *TEST_DIRS, *PARALLEL, *session.posargs)


@nox.session(python=PYTHON, reuse_venv=False)
def floors(session: nox.Session) -> None:
    """Every test at the lowest versions the packages declare (uv's lowest-direct resolution).

    The packages are installed editable so uv counts their requirements as
    direct (a wheel's would be transitive, and resolve to the newest). A
    fresh environment each run: a leftover newer release would satisfy a
    floor without testing it. On the oldest Python only, the usual pairing
    for oldest releases (some have no wheels for newer interpreters).
    """
    session.run_install(
        "uv",
        "pip",
        "install",
        "--resolution=lowest-direct",
        *(f"--editable=packages/{p}{with_pipecat(p)}" for p in PACKAGES),
        "--group=dev",
        env={"VIRTUAL_ENV": session.virtualenv.location},
    )
    show_versions(session, *PACKAGES)
    session.run("pytest", *TEST_DIRS, *PARALLEL, *session.posargs)


def with_pipecat(package: str) -> str:
    """``"[pipecat]"`` for a package that has the ``pipecat`` extra, else ``""``."""
    project = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())["project"]
    return "[pipecat]" if "pipecat" in project.get("optional-dependencies", {}) else ""


def show_versions(session: nox.Session, *distributions: str) -> None:
    """Print each distribution's version and those of its requirements, as installed."""
    session.run("python", str(ROOT / ".ci" / "show_versions.py"), *distributions, silent=False)


@nox.session(python=PYTHON, reuse_venv=False)
@nox.parametrize("pipecat", list(PIPECAT_VERSIONS))
def compat(session: nox.Session, pipecat: str) -> None:
    """The tests and the examples against each Pipecat release where its surface changed."""
    test_with_pipecat(session, PIPECAT_VERSIONS[pipecat])


@nox.session(python=PYTHON, reuse_venv=False, default=False)
@nox.parametrize("pipecat", PIPECAT_MINOR_RELEASES)
def compat_every_release(session: nox.Session, pipecat: str) -> None:
    """`compat` on every minor release of the declared Pipecat range (slow: not default)."""
    test_with_pipecat(session, f"pipecat-ai=={pipecat}")


def test_with_pipecat(session: nox.Session, pipecat: str) -> None:
    """Install the built wheels with ``pipecat`` as a user would, then run the tests and examples.

    A fresh environment each run, holding only what the wheels, that Pipecat
    release and the test tools require: a dependency the lock happens to
    hold (``websockets``, say) cannot hide one a release fails to declare.

    Only the test files that reach Pipecat run (``--pipecat-tests=only``,
    about a third of the suite): the others cannot change with the Pipecat
    release. Which files those are is read from their code by
    ``pipecat_selection.py`` (no hand-kept list); `nopipecat` runs the rest
    with any import of Pipecat failing, so a misjudged file fails there, and
    the root conftest refuses an implausibly small selection. A release could
    still change the others' results through a dependency it pins
    differently; the versions in its environment (printed below) lie between
    the `floors` and the locked ones the whole suite runs on, which
    docs/maintaining.md checks for each release here ("What compat runs").
    """
    wheels = build_wheels(session)
    session.install(*(with_extra(wheel) for wheel in wheels), pipecat, *test_tools())
    show_versions(session, *PACKAGES)  # pipecat-ai and websockets among them
    unbracketed = unbracketed_versions(
        session, wheels, newest=pipecat == PIPECAT_VERSIONS["newest"]
    )
    if unbracketed:
        session.log(f"the whole suite: not bracketed by floors, the lock and newest: {unbracketed}")
    selection = [] if unbracketed else ["--pipecat-tests=only"]
    session.run(
        "pytest", *TEST_DIRS, *selection, "-p", "no:cacheprovider", *PARALLEL, *session.posargs
    )
    run_examples(session)


def unbracketed_versions(session: nox.Session, wheels: list[str], *, newest: bool) -> list[str]:
    """What the tests not reaching Pipecat use, installed here at a version no full run tests.

    Those tests run on every dependency at its floor (`floors`), locked
    (`tests`) and newest release (`compat` on the newest Pipecat, which runs
    them all: so this returns everything for it). A version between those
    tests nothing new for them; one outside (an old Pipecat pinning a shared
    dependency below the floors' and the lock's, or above what the newest
    Pipecat allows) is returned, and the session then runs the whole suite.
    "What they use" is what the wheels without the pipecat extra and the test
    tools install: `nopipecat` runs those tests with nothing else.
    """
    if newest:
        return ["(the newest Pipecat: every dependency at its newest release)"]
    tmp = Path(session.create_tmp())
    plain = resolve(session, tmp, [*wheels, *test_tools()])
    floors = resolve(
        session,
        tmp,
        [f"-e {ROOT / 'packages' / p}{with_pipecat(p)}" for p in PACKAGES] + test_tools(),
        "--resolution=lowest-direct",
    )
    newest_pipecat = [*(with_extra(w) for w in wheels), PIPECAT_VERSIONS["newest"], *test_tools()]
    newest_versions = resolve(session, tmp, newest_pipecat)
    locked = {
        canonicalize_name(package["name"]): Version(package["version"])
        for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
        if "version" in package
    }
    installed = dict(line.split("==") for line in uv_pip(session, "freeze").split() if "==" in line)
    found = []
    for name, text in installed.items():
        key = canonicalize_name(name)
        if key not in plain or key in {canonicalize_name(p) for p in PACKAGES}:
            continue
        version = Version(text)
        known = [v for v in (floors.get(key), locked.get(key), newest_versions.get(key)) if v]
        if not known or not min(known) <= version <= max(known):
            found.append(f"{name}=={version} (tested at {', '.join(map(str, sorted(known)))})")
    return found


_RESOLVED: dict[tuple[str, ...], dict[str, Version]] = {}
"""Resolutions made in this nox run: each pinned `compat` session asks for the same three."""


def resolve(
    session: nox.Session, tmp: Path, requirements: list[str], *options: str
) -> dict[str, Version]:
    """The versions ``uv pip compile`` resolves ``requirements`` to, for the session's Python."""
    key = (*requirements, "--", *options)
    if key not in _RESOLVED:
        _RESOLVED[key] = _compile(session, tmp, requirements, *options)
    return _RESOLVED[key]


def _compile(
    session: nox.Session, tmp: Path, requirements: list[str], *options: str
) -> dict[str, Version]:
    source = tmp / "requirements.in"
    source.write_text("\n".join(requirements) + "\n")
    out = uv_pip(
        session, "compile", "--quiet", "--no-header", "--no-annotate", *options, str(source)
    )
    return {
        canonicalize_name(name): Version(version)
        for name, version in (line.split("==") for line in out.split() if "==" in line)
    }


def uv_pip(session: nox.Session, *args: str) -> str:
    """The output of ``uv pip`` on the session's environment."""
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    return str(session.run("uv", "pip", *args, "--python", python, silent=True, external=True))


def with_extra(wheel: str) -> str:
    """A wheel's path with ``[pipecat]`` appended when its package has that extra."""
    package = Path(wheel).name.split("-")[0].replace("_", "-")
    return f"{wheel}{with_pipecat(package)}"


def test_tools() -> list[str]:
    """The ``dev`` group's requirements other than the workspace packages and mypy.

    Without mypy the one test that type-checks the writing-a-backend guide
    skips: what it checks does not depend on the Pipecat release (Pipecat is
    untyped to mypy here), the `tests` sessions run it, and it is the
    slowest test of the suite from a fresh environment.
    """
    group = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    return [item for item in group if Requirement(item).name not in (*PACKAGES, "mypy")]


def run_examples(session: nox.Session) -> None:
    """Run every example script, with no provider credentials in the environment."""
    env = {name: "" for name in ("REPLICATE_API_TOKEN", "IMAGEGEN_BACKEND") if name in os.environ}
    for example in EXAMPLES:
        session.run("python", example, env=env)


@nox.session(python=PYTHON, default=False)
def examples(session: nox.Session) -> None:
    """The examples against the locked Pipecat (`compat` runs them on every supported one)."""
    sync(session, "dev")
    run_examples(session)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The documentation site built with --strict, and every code block in it compiled and run."""
    sync(session, "docs", "dev")
    site = Path(session.create_tmp()) / "site"
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", str(site), env={"NO_MKDOCS_2_WARNING": "1"}
    )
    session.run("pytest", DOCS_TESTS, "-k", "not mypy", *session.posargs)


_WHEELS: list[str] = []
"""The wheels this nox run built, once for every session that installs them."""


def build_wheels(session: nox.Session) -> list[str]:
    """Every package's wheel, built on the first call of this nox run; return their paths.

    The five `compat` sessions, `nopipecat` and `template` install the same
    wheels, so they are built once per run (not once per session) into a
    folder of their own under ``.nox/``, which a later run empties first: a
    run always installs what the checkout holds as it starts, edits included.
    """
    if not _WHEELS:
        out = ROOT / ".nox" / "_wheels"
        shutil.rmtree(out, ignore_errors=True)
        for package in PACKAGES:
            session.run(
                "uv", "build", "--wheel", "--quiet", "--package", package, "--out-dir", str(out)
            )
        _WHEELS.extend(sorted(str(path) for path in out.glob("*.whl")))
    return list(_WHEELS)


def site_packages_size(session: nox.Session, python: str) -> int:
    """Bytes under the site-packages of the environment whose interpreter is ``python``."""
    code = (
        "import os, sysconfig; root = sysconfig.get_paths()['purelib']; "
        "print(sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs))"
    )
    return int(session.run(python, "-c", code, silent=True, external=True).strip())


@nox.session(python=PYTHON)
def distributions(session: nox.Session) -> None:
    """Every package built as it would be uploaded, and checked as PyPI and a user would.

    ``uv build`` makes the sdist, then the wheel from that sdist (so a file
    the sdist leaves out fails the build). twine checks the metadata and the
    README's rendering, check-wheel-contents the wheel's layout, and
    ``.ci/check_distributions.py`` the licence file in both, the absence of
    tests from the sdist (left out on purpose), absolute README links, URLs,
    authors and bounded inter-package requirements.
    """
    sync(session, "release")
    out = Path(session.create_tmp()) / "dist"
    shutil.rmtree(out, ignore_errors=True)
    for package in PACKAGES:
        session.run("uv", "build", "--quiet", "--package", package, "--out-dir", str(out))
    # Only the distributions: uv also writes a .gitignore into the folder.
    wheels = sorted(str(path) for path in out.glob("*.whl"))
    sdists = sorted(str(path) for path in out.glob("*.tar.gz"))
    if len(wheels) != len(PACKAGES) or len(sdists) != len(PACKAGES):
        session.error(f"expected a wheel and an sdist per package in {out}: {wheels + sdists}")
    session.run("twine", "check", "--strict", *wheels, *sdists)
    # W002 (files with identical contents) is expected: cassettes are recorded
    # with seeded ids and a stepping clock, so two tests whose traffic is the
    # same (openai's round trip and unsupported-setting cassettes) record the
    # same bytes. Every other check stays on.
    session.run("check-wheel-contents", "--ignore", "W002", *wheels)
    session.run("python", str(ROOT / ".ci" / "check_distributions.py"), *wheels, *sdists)


@nox.session(python=PYTHON)
def nopipecat(session: nox.Session) -> None:
    """What a backend author installs: the built wheels without the pipecat extra.

    No Pipecat may arrive; the CLI lists and generates, and the conformance
    suite runs (its Pipecat round trip skips with the extra to install). Then
    every test file that ``pipecat_selection.py`` says does not reach Pipecat
    runs here, with any import of Pipecat failing the test that makes it
    (``--pipecat-tests=none``): that proves the selection the `compat`
    sessions run is complete, each run. The install size is printed beside
    that of the same wheels with the extra.
    """
    wheels = build_wheels(session)
    session.install(*wheels, *test_tools())
    session.run(
        "python",
        "-c",
        "import importlib.util as u, sys; sys.exit(u.find_spec('pipecat') is not None)",
    )
    out = Path(session.create_tmp()) / "nopipecat-out"
    session.run("imagegen", "backends")
    session.run("imagegen", "generate", "a red fox", "--backend", "fake", "--out", str(out))
    if not list(out.glob("*")):
        session.error(f"imagegen generate wrote nothing into {out}")
    session.run(
        "pytest",
        "packages/imagegen-testing/tests/test_fake_conformance.py",
        "packages/imagegen-replicate/tests/test_conformance.py",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )
    session.run(
        "pytest",
        *TEST_DIRS,
        "--pipecat-tests=none",
        "-p",
        "no:cacheprovider",
        *PARALLEL,
        *session.posargs,
    )
    without = site_packages_size(session, "python")
    with_extra = Path(session.create_tmp()) / "with-pipecat"
    # A reused session keeps the last run's venv in its tmp; start it afresh.
    shutil.rmtree(with_extra, ignore_errors=True)
    session.run("uv", "venv", "--quiet", "--python", PYTHON, str(with_extra))
    extra_python = str(with_extra / "bin" / "python")
    session.run(
        "uv",
        "pip",
        "install",
        "--quiet",
        "--python",
        extra_python,
        *(f"{w}[pipecat]" if "imagegen_core-" in w else w for w in wheels),
    )
    size = site_packages_size(session, extra_python)
    session.log(
        f"install size (site-packages): without Pipecat {without / 2**20:.0f} MiB, "
        f"with the pipecat extra {size / 2**20:.0f} MiB"
    )


@nox.session(python=PYTHON)
def template(session: nox.Session) -> None:
    """The third-party backend template, installed as a stranger would: outside the workspace.

    examples/third-party-backend/ is copied to a temporary folder outside the
    repository and installed there (not editable) beside the wheels of
    imagegen-core and imagegen-testing built from this checkout, then its own
    tests run from the copy, the conformance ones replaying its cassettes with
    the network blocked. Only the public surface can be reached that way, so
    a template that needs a private import fails here.
    """
    wheels = [w for w in build_wheels(session) if "imagegen_replicate-" not in w]
    with tempfile.TemporaryDirectory(prefix="imagegen-template-") as scratch:
        copy = Path(scratch) / "acme-imagegen"
        shutil.copytree(
            ROOT / "examples" / "third-party-backend",
            copy,
            ignore=shutil.ignore_patterns(".venv", "__pycache__", "*.egg-info", "build", "dist"),
        )
        session.install(
            *(f"{w}[pipecat]" if "imagegen_testing-" in w else w for w in wheels),
            f"{copy}[test]",
        )
        with session.chdir(copy):
            session.run("imagegen", "backends", "--strict")
            session.run(
                "python",
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "tests/test_conformance.py",
                "--block-network",
                *session.posargs,
            )
            session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs)


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


OLD_REPLICATE_PLUGIN = ("pipecat-ai==0.0.108", "pipecat-replicate==0.1.0")
"""The seed plugin the benchmarks compare against, on the last Pipecat it imports on."""


@nox.session(python=PYTHON, default=False)
def reliability(session: nox.Session) -> None:
    """The reliability suite at full size against the emulators; prints one table of figures.

    2,000 prompts over 64 pipelines with every emulator fault, 200
    interruptions, every bad-input case through the service and the CLI, the
    canary search and the broken plugins (docs/reliability.md). About
    three to four minutes on a loaded two-core machine; not a default session for that
    reason (the fast versions run in `tests`). Exit status 1 when a promise
    of the table missed. `-- --quick` runs small counts.
    """
    sync(session, "dev")
    session.run("python", "-m", "reliability", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks; each prints ratios against a baseline measured in the same run.

    The old pipecat-replicate plugin cannot share this environment (it needs
    Pipecat 0.0.108), so it gets a virtualenv of its own under the session's
    folder, and benchmarks/suite.py runs its half of the figures there.
    """
    sync(session, "dev", "bench")
    old = Path(session.virtualenv.location) / "old-pipecat-replicate"
    session.run_install("uv", "venv", "--quiet", "--allow-existing", "-p", PYTHON, str(old))
    old_python = old / "bin" / "python"
    session.run_install(
        "uv", "pip", "install", "--quiet", "--python", str(old_python), *OLD_REPLICATE_PLUGIN
    )
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        extra = ["--old-python", str(old_python)] if script.name == "suite.py" else []
        args = [*extra, *session.posargs] if script.name == "suite.py" else []
        session.run("python", str(script.relative_to(ROOT)), *args)
