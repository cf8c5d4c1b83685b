"""The ecosystem's plugin-health probe sees every imagegen Pipecat service working.

The pipecat-plugin-health dashboard imports every module of each installed
distribution whose metadata names ``pipecat-ai``, and flags every
``FrameProcessor`` subclass it finds that cannot be created, exempting only
classes that ``inspect.isabstract`` or whose names start with ``Base`` or
``Abstract``. This test does the same here, creating each concrete class with
the minimal arguments our docs show, on whichever Pipecat is installed (so on
every release of the compat matrix). A new concrete processor without an
entry in :data:`DOCUMENTED_MINIMAL_ARGUMENTS` fails it: document how to make
one, or name it as a base.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import aiohttp
from pipecat.processors.frame_processor import FrameProcessor

# The arguments each concrete processor is documented with (README, docs/).
DOCUMENTED_MINIMAL_ARGUMENTS: dict[str, Callable[[aiohttp.ClientSession], dict[str, Any]]] = {
    # README: BackendImageGenService(backend="replicate")
    "imagegen_core.pipecat._service.BackendImageGenService": lambda session: {
        "backend": "replicate"
    },
    # The seed's page: ReplicateImageGenService(aiohttp_session=session), token from the env.
    "imagegen_replicate.pipecat_service.ReplicateImageGenService": lambda session: {
        "aiohttp_session": session
    },
}

_NAMES_PIPECAT = re.compile(r"^pipecat-ai\b", re.IGNORECASE)


def probed_distributions() -> list[str]:
    """Our distributions that the probe would import: their metadata names pipecat-ai."""
    found = []
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.startswith("imagegen-") and any(
            _NAMES_PIPECAT.match(r) for r in dist.requires or []
        ):
            found.append(name)
    return sorted(set(found))


def modules_of(distribution: str) -> Iterator[ModuleType]:
    """Every module of one of our distributions (its import package is its name, underscored)."""
    package = importlib.import_module(distribution.replace("-", "_"))
    yield package
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)


def processors_of(distribution: str) -> dict[str, type[FrameProcessor]]:
    root = distribution.replace("-", "_")
    found: dict[str, type[FrameProcessor]] = {}
    for module in modules_of(distribution):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, FrameProcessor) and cls.__module__.split(".")[0] == root:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def exempt(cls: type) -> bool:
    return inspect.isabstract(cls) or cls.__name__.startswith(("Base", "Abstract"))


def test_the_probe_reads_both_distributions_that_have_a_service() -> None:
    assert probed_distributions() == ["imagegen-core", "imagegen-replicate"]


async def test_every_concrete_processor_is_created_with_its_documented_arguments(
    monkeypatch: Any,
) -> None:
    monkeypatch.delenv("IMAGEGEN_BACKEND", raising=False)
    seen: dict[str, type[FrameProcessor]] = {}
    for distribution in probed_distributions():
        seen |= processors_of(distribution)
    concrete = {name: cls for name, cls in seen.items() if not exempt(cls)}

    assert set(concrete) == set(DOCUMENTED_MINIMAL_ARGUMENTS), (
        "concrete FrameProcessors without documented minimal arguments (or gone): "
        f"{sorted(set(concrete) ^ set(DOCUMENTED_MINIMAL_ARGUMENTS))}"
    )
    # The abstract base is exempt by the probe's own rule, by name.
    assert "imagegen_core.pipecat._service.BaseBackendImageGenService" in seen
    async with aiohttp.ClientSession() as session:
        for name, cls in concrete.items():
            service = cls(**DOCUMENTED_MINIMAL_ARGUMENTS[name](session))
            assert isinstance(service, FrameProcessor), name
            await service.cleanup()
