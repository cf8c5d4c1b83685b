"""Loading one backend entry point in isolation, and remembering the outcome.

Each entry point gets its own pluggy :class:`~pluggy.PluginManager`. A shared
manager would let one plugin's bad hookimpl (pluggy rejects it at
``register``) or its half-finished registration leak into every other plugin's
result; a manager per plugin costs microseconds and makes "one broken plugin
is reported and skipped" true by construction.

Every failure a plugin can cause (an import error, a bad hookimpl signature, a
misspelt hook name caught by ``check_pending()``, an exception in the hook, a
hook that registers nothing or something that is not a backend) becomes a
:class:`LoadOutcome` with an ``error`` string instead of an exception, so the
caller decides whether to skip it (listing) or raise it (selection, strict
mode). Outcomes are cached per process: importing a module twice is pointless,
and each broken plugin is logged once, not on every listing.
"""

from __future__ import annotations

import inspect
import logging
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

import pluggy

from imagegen_core._backend import ImageBackend
from imagegen_core._redaction import redact
from imagegen_core.plugins import _hookspecs as hookspecs

__all__ = [
    "LoadOutcome",
    "describe_exception",
    "entry_point_distribution",
    "load_entry_point",
    "reset_plugin_cache",
]

_log = logging.getLogger("imagegen")

_cache: dict[tuple[str, str, str], LoadOutcome] = {}
# Re-entrant: a plugin's import may itself ask which backends exist.
_lock = threading.RLock()


@dataclass(frozen=True)
class LoadOutcome:
    """What loading one entry point produced.

    Exactly one of ``backend_class`` and ``error`` is set. ``warnings`` are
    problems that do not stop the backend from working (its class declares a
    name other than its entry point's); strict mode treats them as errors.
    """

    backend_class: type[ImageBackend[Any]] | None
    error: str | None = None
    warnings: tuple[str, ...] = ()


def entry_point_distribution(entry_point: EntryPoint) -> tuple[str, str]:
    """The (name, version) of the distribution that declares ``entry_point``."""
    dist = entry_point.dist
    if dist is None:
        return ("unknown", "")
    return (dist.name or "unknown", dist.version or "")


def load_entry_point(entry_point: EntryPoint) -> LoadOutcome:
    """Import one backend entry point and collect the class its hook registers.

    Never raises for anything the plugin does wrong; see :class:`LoadOutcome`.
    The result is cached until :func:`reset_plugin_cache`.
    """
    distribution, version = entry_point_distribution(entry_point)
    key = (entry_point.name, entry_point.value, distribution)
    with _lock:
        outcome = _cache.get(key)
        if outcome is None:
            outcome = _load(entry_point)
            _cache[key] = outcome
            where = f"{distribution} {version}".strip()
            if outcome.error is not None:
                _log.warning(
                    "backend plugin %r (%s) could not be loaded: %s",
                    entry_point.name,
                    where,
                    outcome.error,
                )
            for warning in outcome.warnings:
                _log.warning("backend plugin %r (%s): %s", entry_point.name, where, warning)
        return outcome


def reset_plugin_cache() -> None:
    """Forget every loaded plugin, so the next call imports and validates afresh.

    Modules already imported stay in :data:`sys.modules`; this only drops the
    outcomes (classes and errors) kept by this module. Tests that install and
    remove plugins between cases need it.
    """
    with _lock:
        _cache.clear()


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` of what plugin code raised, scrubbed of anything token-shaped."""
    detail = redact(str(exc)).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _load(entry_point: EntryPoint) -> LoadOutcome:
    name = entry_point.name
    try:
        plugin = entry_point.load()
    except (Exception, SystemExit) as exc:
        # SystemExit too: a plugin calling sys.exit() while importing must not
        # end the host application's listing of backends.
        return LoadOutcome(
            None, f"importing {entry_point.value!r} failed: {describe_exception(exc)}"
        )

    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    try:
        manager.register(plugin, name=f"imagegen.backends:{name}")
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        return LoadOutcome(None, f"invalid hook implementation: {describe_exception(exc)}")

    registered: list[object] = []
    try:
        manager.hook.imagegen_register_backends(register=registered.append)
    except (Exception, SystemExit) as exc:
        return LoadOutcome(None, f"imagegen_register_backends raised {describe_exception(exc)}")
    return _check_registered(name, registered)


def _check_registered(name: str, registered: list[object]) -> LoadOutcome:
    if not registered:
        return LoadOutcome(
            None,
            "the plugin registered no backend (it needs an imagegen_register_backends "
            "function decorated with imagegen_core.hookimpl that calls register(BackendClass))",
        )
    if len(registered) > 1:
        names = ", ".join(_qualname(obj) for obj in registered)
        return LoadOutcome(
            None, f"the plugin registered {len(registered)} objects ({names}); expected one"
        )
    candidate = registered[0]
    if not (isinstance(candidate, type) and issubclass(candidate, ImageBackend)):
        return LoadOutcome(
            None,
            f"the plugin registered {_qualname(candidate)}, which is not an "
            "imagegen_core.ImageBackend subclass",
        )
    if inspect.isabstract(candidate):
        missing = ", ".join(sorted(getattr(candidate, "__abstractmethods__", ())))
        return LoadOutcome(
            None, f"{_qualname(candidate)} is abstract (does not implement: {missing})"
        )
    declared = getattr(candidate, "name", None)
    if not isinstance(declared, str) or not declared:
        return LoadOutcome(None, f"{_qualname(candidate)} does not set its `name` class attribute")
    warnings: tuple[str, ...] = ()
    if declared != name:
        warnings = (
            f"{_qualname(candidate)}.name is {declared!r} but its entry point is named "
            f"{name!r}; the entry point name is used for selection",
        )
    return LoadOutcome(candidate, warnings=warnings)


def _qualname(obj: object) -> str:
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    return f"{type(obj).__qualname__} instance"
