"""Plugins: each kind of broken plugin installed beside a good one, listed normally and strictly.

Plugins are real distributions here: a ``dist-info`` folder with
``entry_points.txt`` next to the plugin module, in a folder put on
``sys.path``, so discovery reads them exactly as it reads installed wheels.
What must hold, for every kind: listing reports the broken plugin and goes
on; the good one is listed, selected by name and generates; strict mode (the
argument and ``imagegen backends --strict``) refuses with a ``PluginError``
naming the broken one.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from imagegen_core import ImageRequest
from imagegen_core.plugins import (
    ENTRY_POINT_GROUP,
    ENV_LOAD_PLUGINS,
    PluginError,
    available_backends,
    create_backend,
    reset_plugin_cache,
)
from reliability.figures import Figure
from reliability.subjects import run_cli

__all__ = ["BROKEN_KINDS", "BrokenKind", "run_plugins"]

SECTION = "plugins"

GOOD = """
from imagegen_core import BackendSettings, Capabilities, GeneratedImage, ImageBackend, hookimpl

class Backend(ImageBackend):
    name = "{name}"
    settings_model = BackendSettings

    @property
    def capabilities(self):
        return Capabilities()

    async def _generate(self, request):
        yield GeneratedImage(data=b"\\x89PNG\\r\\n\\x1a\\n", media_type="image/png")

@hookimpl
def imagegen_register_backends(register):
    register(Backend)
"""
"""A complete backend (its one image is a bare PNG signature: nothing decodes it here)."""

_HOOK = "from imagegen_core import hookimpl\n\n@hookimpl\n"


@dataclass(frozen=True)
class BrokenKind:
    """One way a plugin can be broken: its module source, or an entry point to nowhere."""

    name: str
    source: str | None
    entry_point: str | None = None
    """The entry point's value when it is not the module written (``None``: that module)."""


BROKEN_KINDS = (
    BrokenKind("raises at import", 'raise RuntimeError("broken at import")\n'),
    BrokenKind("exits at import", "import sys\nsys.exit(3)\n"),
    BrokenKind("imports a missing dependency", "import imagegen_no_such_dependency\n"),
    BrokenKind("entry point to a missing module", None, "imagegen_no_such_plugin_module"),
    BrokenKind("entry point to a missing attribute", GOOD, "{module}:no_such_attribute"),
    BrokenKind(
        "hook raises",
        _HOOK + "def imagegen_register_backends(register):\n"
        "    raise ValueError('hook exploded')\n",
    ),
    BrokenKind(
        "misspelt hook argument", _HOOK + "def imagegen_register_backends(registr):\n    pass\n"
    ),
    BrokenKind(
        "misspelt hook name", _HOOK + "def imagegen_register_backend(register):\n    pass\n"
    ),
    BrokenKind(
        "registers nothing", _HOOK + "def imagegen_register_backends(register):\n    pass\n"
    ),
    BrokenKind(
        "another project's hook marker",
        "import pluggy\n"
        "hookimpl = pluggy.HookimplMarker('llm')\n\n@hookimpl\n"
        "def imagegen_register_backends(register):\n    pass\n",
    ),
    BrokenKind(
        "registers a non-backend",
        _HOOK + "def imagegen_register_backends(register):\n    register(object)\n",
    ),
    BrokenKind(
        "registers an abstract backend",
        "from imagegen_core import ImageBackend, "
        "BackendSettings, hookimpl\n\nclass Half(ImageBackend):\n    name = '{name}'\n"
        "    settings_model = BackendSettings\n\n@hookimpl\n"
        "def imagegen_register_backends(register):\n    register(Half)\n",
    ),
    BrokenKind(
        "registers two backends",
        GOOD.replace("    register(Backend)", "    register(Backend)\n    register(Backend)"),
    ),
)
"""Every kind of broken plugin the section installs."""


class _Site:
    """A folder on ``sys.path`` holding throwaway plugin distributions."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.modules: list[str] = []
        self._tag = uuid.uuid4().hex[:8]

    def install(self, name: str, source: str | None, entry_point: str | None = None) -> None:
        module = f"imagegen_reliability_{self._tag}_{len(self.modules)}"
        if source is not None:
            (self.folder / f"{module}.py").write_text(
                textwrap.dedent(source).replace("{name}", name)
            )
            self.modules.append(module)
        value = (entry_point or module).replace("{module}", module)
        dist_info = self.folder / f"imagegen_reliability_{name.replace('-', '_')}-1.0.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: imagegen-reliability-{name}\nVersion: 1.0\n"
        )
        (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {value}\n")
        importlib.invalidate_caches()


@contextlib.contextmanager
def _installed(kind: BrokenKind) -> Iterator[None]:
    """The good plugin and one broken one installed, and only they allowed, for the duration."""
    with tempfile.TemporaryDirectory(prefix="imagegen-plugins-") as folder:
        site = _Site(Path(folder))
        site.install("good", GOOD)
        site.install("broken", kind.source, kind.entry_point)
        old = os.environ.get(ENV_LOAD_PLUGINS)
        os.environ[ENV_LOAD_PLUGINS] = "good,broken"
        sys.path.insert(0, folder)
        reset_plugin_cache()
        try:
            yield
        finally:
            sys.path.remove(folder)
            for module in site.modules:
                sys.modules.pop(module, None)
            if old is None:
                os.environ.pop(ENV_LOAD_PLUGINS, None)
            else:
                os.environ[ENV_LOAD_PLUGINS] = old
            reset_plugin_cache()
            importlib.invalidate_caches()


@dataclass
class _Check:
    not_reported: int = 0
    good_unusable: int = 0
    strict_accepted: int = 0
    cli_wrong: int = 0
    crashed: int = 0


async def _check(kind: BrokenKind, check: _Check) -> None:
    with _installed(kind):
        try:
            infos = {info.name: info for info in available_backends()}
        except BaseException:
            check.crashed += 1
            return
        broken = infos.get("broken")
        if broken is None or broken.error is None or (broken.loaded and not broken.warnings):
            check.not_reported += 1
        good = infos.get("good")
        try:
            backend = create_backend("good")
            async with backend:
                images = await backend.generate(ImageRequest(prompt="x")).collect()
            usable = good is not None and good.loaded and len(images) == 1
        except Exception:
            usable = False
        check.good_unusable += not usable
        try:
            available_backends(strict=True)
            check.strict_accepted += 1
        except PluginError as error:
            check.strict_accepted += "broken" not in error.message
        listed = await run_cli(["backends"])
        strict = await run_cli(["backends", "--strict"])
        check.cli_wrong += not (listed[0] == 0 and "broken" in listed[1] and "good" in listed[1])
        check.cli_wrong += not (strict[0] == 1 and "broken" in strict[1])


async def run_plugins() -> list[Figure]:
    """Install each broken kind beside the good plugin; return the section's figures."""
    check = _Check()
    for kind in BROKEN_KINDS:
        await _check(kind, check)

    def figure(name: str, value: float, expected: float | None = None) -> Figure:
        return Figure(SECTION, name, value, "", expected)

    return [
        figure("broken plugin kinds, each beside a good one", len(BROKEN_KINDS)),
        figure("listing died", check.crashed, 0),
        figure("broken plugin not reported", check.not_reported, 0),
        figure("good plugin not usable", check.good_unusable, 0),
        figure("strict mode did not refuse it", check.strict_accepted, 0),
        figure("CLI listing or --strict not as expected", check.cli_wrong, 0),
    ]
