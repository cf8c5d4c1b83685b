"""Finding, choosing and creating backends through entry points.

Entry points in the ``imagegen.backends`` group are the registry: the entry
point's name is the backend's name and its value is a module holding a pluggy
``@hookimpl`` of ``imagegen_register_backends``. Two uses pull in opposite
directions, so they are served by two functions:

* choosing one backend (:func:`load_backend_class`, :func:`create_backend`)
  imports only the entry point that was chosen, so a broken or slow plugin
  installed alongside costs nothing and breaks nothing;
* listing (:func:`available_backends`) imports every entry point, each on its
  own, and reports the broken ones instead of failing, unless strict mode is on.

The choice follows one order: an explicit name, then ``IMAGEGEN_BACKEND``,
then the only installed backend; anything else is a :class:`PluginError` that
lists what is installed and how to pick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from imagegen_core._backend import BackendSettings, ImageBackend
from imagegen_core._capabilities import Capabilities
from imagegen_core.plugins._environment import (
    ENV_BACKEND,
    ENV_DISABLE_PLUGINS,
    ENV_LOAD_PLUGINS,
    PluginError,
    PluginFilter,
    selected_backend_name,
    strict_plugins,
)
from imagegen_core.plugins._loader import (
    LoadOutcome,
    describe_exception,
    entry_point_distribution,
    load_entry_point,
    reset_plugin_cache,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "TEST_ENTRY_POINT_GROUP",
    "BackendInfo",
    "PluginError",
    "available_backends",
    "create_backend",
    "load_backend_class",
    "reset_plugin_cache",
]

ENTRY_POINT_GROUP = "imagegen.backends"
"""The entry-point group backend plugins declare themselves in."""

TEST_ENTRY_POINT_GROUP = "imagegen.test_backends"
"""The entry-point group of test doubles (the testing kit's ``fake``).

A backend here is used only when named explicitly (an argument or
``IMAGEGEN_BACKEND``); it never counts as "the only installed backend", is
never suggested, and is listed only when asked for. Installing a testing kit
next to a real backend therefore changes nothing that production selects.
A real backend of the same name wins over a test double."""


@dataclass(frozen=True)
class BackendInfo:
    """One installed backend as seen by :func:`available_backends`.

    ``backend_class`` is None when the plugin could not be loaded; ``error``
    then says why. A plugin that loaded but whose capabilities could not be
    read with default settings keeps its class and reports that in ``error``
    too; :attr:`loaded` tells the two apart.

    Args:
        name: The backend's name (its entry point's name).
        distribution: The installed distribution that declares the entry point.
        version: That distribution's version.
        module: The entry point's value (the plugin module).
        backend_class: The class the plugin registered, if loading worked.
        capabilities: The class's capabilities under default settings, if readable.
        error: Why the backend cannot be used, or why its capabilities are missing.
        warnings: Problems that do not stop the backend working (fatal in strict mode).
        test_only: The backend is a test double (:data:`TEST_ENTRY_POINT_GROUP`),
            used only when named.
    """

    name: str
    distribution: str
    version: str
    module: str
    backend_class: type[ImageBackend[Any]] | None = None
    capabilities: Capabilities | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    test_only: bool = False

    @property
    def loaded(self) -> bool:
        """Whether the plugin loaded and its backend class can be used."""
        return self.backend_class is not None


def _installed(group: str = ENTRY_POINT_GROUP) -> dict[str, list[EntryPoint]]:
    """Every entry point of ``group``, grouped by name (several per name is a conflict)."""
    groups: dict[str, list[EntryPoint]] = {}
    for entry_point in entry_points(group=group):
        groups.setdefault(entry_point.name, []).append(entry_point)
    return dict(sorted(groups.items()))


def _test_doubles(production: Mapping[str, list[EntryPoint]]) -> dict[str, list[EntryPoint]]:
    """The test doubles whose names no real backend takes."""
    doubles = _installed(TEST_ENTRY_POINT_GROUP)
    return {name: claims for name, claims in doubles.items() if name not in production}


def _conflict(name: str, claims: list[EntryPoint]) -> str:
    owners = "; ".join(
        "{} {} ({})".format(*entry_point_distribution(ep), ep.value) for ep in claims
    )
    return (
        f"backend name {name!r} is claimed by {len(claims)} entry points: {owners}; "
        f"uninstall one of them, or disable the name with {ENV_DISABLE_PLUGINS}"
    )


def _info(entry_point: EntryPoint, **fields: Any) -> BackendInfo:
    distribution, version = entry_point_distribution(entry_point)
    test_only = entry_point.group == TEST_ENTRY_POINT_GROUP
    return BackendInfo(
        entry_point.name, distribution, version, entry_point.value, test_only=test_only, **fields
    )


def _listed(entry_point: EntryPoint, outcome: LoadOutcome) -> BackendInfo:
    backend_class = outcome.backend_class
    if backend_class is None:
        return _info(entry_point, error=outcome.error, warnings=outcome.warnings)
    capabilities: Capabilities | None = None
    error: str | None = None
    try:
        # Constructors do no I/O by protocol rule, so this is cheap and safe.
        capabilities = backend_class().capabilities
        if not isinstance(capabilities, Capabilities):
            error = f"capabilities is a {type(capabilities).__name__}, not a Capabilities"
            capabilities = None
    except Exception as exc:
        error = f"capabilities unavailable with default settings: {describe_exception(exc)}"
    return _info(
        entry_point,
        backend_class=backend_class,
        capabilities=capabilities,
        error=error,
        warnings=outcome.warnings,
    )


def available_backends(
    *, strict: bool | None = None, include_test_backends: bool = False
) -> list[BackendInfo]:
    """List the installed backends that the allow- and deny-lists let through.

    Each entry point is loaded on its own; one that fails is reported in its
    :attr:`BackendInfo.error` and the rest are still listed. Backends switched
    off by ``IMAGEGEN_LOAD_PLUGINS`` / ``IMAGEGEN_DISABLE_PLUGINS`` are left out.

    Args:
        strict: Make any load error (or load warning) fatal. None reads
            ``IMAGEGEN_STRICT_PLUGINS``.
        include_test_backends: Also list the test doubles of
            :data:`TEST_ENTRY_POINT_GROUP` (marked ``test_only``), after the
            real backends.

    Returns:
        One entry per entry point, sorted by name (real backends first).

    Raises:
        PluginError: In strict mode, listing every plugin that failed.
    """
    strict = strict_plugins(strict)
    allowed = PluginFilter.from_env()
    infos: list[BackendInfo] = []
    production = _installed()
    groups = [production, _test_doubles(production)] if include_test_backends else [production]
    for name, claims in (item for group in groups for item in group.items()):
        if not allowed.allows(name):
            continue
        if len(claims) > 1:
            infos.extend(_info(ep, error=_conflict(name, claims)) for ep in claims)
            continue
        infos.append(_listed(claims[0], load_entry_point(claims[0])))
    if strict:
        problems: list[str] = []
        for info in infos:
            if not info.loaded and info.error is not None:
                problems.append(f"{info.name}: {info.error}")
            problems.extend(f"{info.name}: {warning}" for warning in info.warnings)
        if problems:
            problems = list(dict.fromkeys(problems))  # a conflict is reported by both claimants
            # One problem per line: several broken plugins read better as a list.
            raise PluginError(
                "backend plugins failed to load (strict mode):\n  " + "\n  ".join(problems)
            )
    return infos


def _choose(
    name: str | None,
    installed: Mapping[str, list[EntryPoint]],
    doubles: Mapping[str, list[EntryPoint]],
) -> str:
    """Apply the order of choice: argument, environment variable, the only one installed.

    Test doubles (``doubles``) are eligible only when named.
    """
    allowed = PluginFilter.from_env()
    names = [n for n in installed if allowed.allows(n)]
    listing = ", ".join(names) or "none"
    source = ""
    if name is None:
        name = selected_backend_name()
        source = f" (from {ENV_BACKEND})"
    if name is not None:
        name = name.strip()
        if not name:
            raise PluginError("the backend name is empty")
        refusal = allowed.refusal(name)
        if refusal is not None:
            raise PluginError(f"{refusal}{source}", backend=name)
        if name not in installed and name not in doubles:
            raise PluginError(
                f"no imagegen backend named {name!r} is installed{source}; installed: {listing}",
                backend=name,
            )
        return name
    if len(names) == 1:
        return names[0]
    if names:
        raise PluginError(
            f"several imagegen backends are installed ({listing}); name the one to use "
            f"(for example {names[0]!r}) or set {ENV_BACKEND}={names[0]}",
            choices=names,
        )
    hidden = sorted(set(installed) - set(names))
    why = (
        f" ({', '.join(hidden)} switched off by {ENV_LOAD_PLUGINS}/{ENV_DISABLE_PLUGINS})"
        if hidden
        else ""
    )
    raise PluginError(
        f"no imagegen backend is installed{why}; install a backend package such as "
        "imagegen-replicate"
    )


def load_backend_class(
    name: str | None = None, *, strict: bool | None = None
) -> type[ImageBackend[Any]]:
    """Choose a backend and import only its plugin.

    Args:
        name: The backend's name. None follows ``IMAGEGEN_BACKEND``, then the
            only installed backend.
        strict: Also treat load warnings (a class whose ``name`` differs from
            its entry point's) as errors. None reads ``IMAGEGEN_STRICT_PLUGINS``.

    Raises:
        PluginError: No backend could be chosen, the chosen one is switched
            off, claimed by two distributions, or fails to load.
    """
    strict = strict_plugins(strict)
    installed = _installed()
    doubles = _test_doubles(installed)
    chosen = _choose(name, installed, doubles)
    claims = installed.get(chosen) or doubles[chosen]
    if len(claims) > 1:
        raise PluginError(_conflict(chosen, claims), backend=chosen)
    outcome = load_entry_point(claims[0])
    if outcome.backend_class is None:
        distribution, version = entry_point_distribution(claims[0])
        raise PluginError(
            f"backend plugin {chosen!r} ({distribution} {version}) failed to load: {outcome.error}",
            backend=chosen,
        )
    if strict and outcome.warnings:
        raise PluginError(f"strict mode: {'; '.join(outcome.warnings)}", backend=chosen)
    return outcome.backend_class


def create_backend(
    name: str | None = None,
    settings: BackendSettings | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> ImageBackend[Any]:
    """Choose a backend as :func:`load_backend_class` does and construct it.

    Args:
        name: The backend's name, or None to follow the order of choice.
        settings: The backend's settings model, or a mapping of its fields.
        **kwargs: Further constructor arguments of that backend (a shared
            ``session``, say).

    Raises:
        PluginError: No backend could be chosen or loaded.
        ImageGenError: ``invalid_request`` when the settings do not validate.
    """
    backend_class = load_backend_class(name)
    if settings is None:
        return backend_class(**kwargs)
    return backend_class(settings, **kwargs)
