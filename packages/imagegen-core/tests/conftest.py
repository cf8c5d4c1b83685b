"""Fixtures shared by the core's tests: a clean plugin environment and throwaway plugins.

Throwaway plugins are real distributions: a ``<name>-<version>.dist-info``
folder with ``METADATA`` and ``entry_points.txt`` next to the plugin's module,
in a folder put on ``sys.path``. ``importlib.metadata`` then finds them exactly
as it finds an installed wheel, so discovery is tested through real metadata.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imagegen_core.plugins import ENTRY_POINT_GROUP, reset_plugin_cache
from imagegen_core.plugins._environment import (
    ENV_BACKEND,
    ENV_DISABLE_PLUGINS,
    ENV_LOAD_PLUGINS,
    ENV_STRICT_PLUGINS,
)

# A complete, working plugin module. ``{name}`` is the backend name. Its images
# are tiny PNGs whose ``echo`` text chunk holds JSON of the settings and options
# they were made with (real images: the CLI saves only what decodes), or ``url``.
GOOD_PLUGIN = """
import io
import json
from collections.abc import AsyncIterator
from typing import ClassVar

from imagegen_core import (
    BackendSettings, Capabilities, GeneratedImage, ImageBackend, ImageRequest, hookimpl,
)


class Settings(BackendSettings):
    colour: str = "red"
    tags: list[str] = []
    url: str | None = None
    count: int | None = None
    allow_private_urls: bool = False


class Backend(ImageBackend[Settings]):
    name: ClassVar[str] = "{name}"
    settings_model = Settings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_images_per_call=2, supports_seed=True)

    async def _generate(self, request: ImageRequest) -> AsyncIterator[GeneratedImage]:
        settings = self.settings
        count = request.num_images if settings.count is None else settings.count
        for index in range(count):
            if settings.url is not None:
                yield GeneratedImage(url=settings.url, index=index)
                continue
            echo = {"colour": settings.colour, "tags": settings.tags, "options": request.options}
            yield GeneratedImage(data=_png_with_text(json.dumps(echo)), index=index)


def _png_with_text(text: str) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("echo", text)
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


@hookimpl
def imagegen_register_backends(register):
    register(Backend)
"""


@dataclass
class InstalledPlugin:
    """A throwaway plugin distribution written for one test."""

    name: str
    distribution: str
    module: str


class PluginInstaller:
    """Writes throwaway plugin distributions into one ``sys.path`` folder."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.modules: list[str] = []
        self._groups: dict[Path, dict[str, list[str]]] = {}
        self._tag = uuid.uuid4().hex[:8]

    def install(
        self,
        name: str,
        source: str = GOOD_PLUGIN,
        *,
        distribution: str | None = None,
        version: str = "1.0",
        class_name: str | None = None,
        group: str = ENTRY_POINT_GROUP,
    ) -> InstalledPlugin:
        """Install a distribution whose entry point ``name`` names a module made from ``source``.

        ``source`` may use ``{name}`` for the backend's declared name
        (``class_name``, default ``name``). The module name is unique to this
        test so ``sys.modules`` never carries a plugin from one test into another.
        ``group`` is the entry-point group (the test-double group, say).
        """
        distribution = distribution or f"imagegen-test-{name}"
        module = f"imagegen_throwaway_{self._tag}_{name.replace('-', '_')}_{len(self.modules)}"
        code = textwrap.dedent(source).replace("{name}", class_name or name)
        (self.site / f"{module}.py").write_text(code)
        self.modules.append(module)
        self._add_entry_point(distribution, version, name, module, group)
        return InstalledPlugin(name, distribution, module)

    def _add_entry_point(
        self, distribution: str, version: str, name: str, value: str, group: str
    ) -> None:
        dist_info = self.site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(exist_ok=True)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
        )
        groups = self._groups.setdefault(dist_info, {})
        groups.setdefault(group, []).append(f"{name} = {value}")
        (dist_info / "entry_points.txt").write_text(
            "".join(
                f"[{g}]\n" + "".join(f"{line}\n" for line in lines) for g, lines in groups.items()
            )
        )
        importlib.invalidate_caches()


@pytest.fixture(autouse=True)
def clean_plugin_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No plugin variable from the developer's shell, and no outcome cached across tests."""
    for variable in (ENV_BACKEND, ENV_DISABLE_PLUGINS, ENV_LOAD_PLUGINS, ENV_STRICT_PLUGINS):
        monkeypatch.delenv(variable, raising=False)
    reset_plugin_cache()
    yield
    reset_plugin_cache()


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginInstaller]:
    """Install throwaway plugins; they vanish (from sys.path and sys.modules) after the test."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    installer = PluginInstaller(site)
    yield installer
    for module in installer.modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Restrict loading to the given backend names (hides the real installed backends)."""

    def allow(*names: str) -> None:
        monkeypatch.setenv(ENV_LOAD_PLUGINS, ",".join(names))

    return allow
