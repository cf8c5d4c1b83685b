"""The environment variables that steer plugin loading, read in one place.

They are read on every call rather than once at import, so a test (or an app
that sets them before its first :func:`~imagegen_core.plugins.create_backend`)
sees its own values. Parsing lives apart from loading so that a typo in a
variable fails with a message naming the variable, before any plugin is
imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from imagegen_core._errors import ErrorKind, ImageGenError

__all__ = [
    "ENV_BACKEND",
    "ENV_DISABLE_PLUGINS",
    "ENV_LOAD_PLUGINS",
    "ENV_STRICT_PLUGINS",
    "PluginError",
    "PluginFilter",
    "selected_backend_name",
    "strict_plugins",
]

ENV_BACKEND = "IMAGEGEN_BACKEND"
"""Names the backend to use when the code does not name one."""
ENV_STRICT_PLUGINS = "IMAGEGEN_STRICT_PLUGINS"
"""``1`` makes any plugin load error fatal instead of reported and skipped."""
ENV_LOAD_PLUGINS = "IMAGEGEN_LOAD_PLUGINS"
"""Comma-separated backend names: load only these (set but empty: load none)."""
ENV_DISABLE_PLUGINS = "IMAGEGEN_DISABLE_PLUGINS"
"""Comma-separated backend names never to load, even when selected by name."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class PluginError(ImageGenError):
    """Choosing or loading a backend plugin failed.

    Always of kind ``invalid_request`` and never retryable: the installation
    or the configuration has to change, not the timing.

    Args:
        message: What went wrong and, where possible, how to fix it, in words
            that hold wherever the choice was made (code, the command line, a
            Pipecat app).
        backend: The backend name concerned, when there is one.
        choices: When no backend was named and several are installed: their
            names, so a caller can say how to name one in its own terms (the
            ``imagegen`` command shows its own usage).
    """

    def __init__(
        self, message: str, *, backend: str | None = None, choices: Sequence[str] = ()
    ) -> None:
        super().__init__(message, kind=ErrorKind.INVALID_REQUEST, retryable=False, backend=backend)
        self.choices: tuple[str, ...] = tuple(choices)

    def copy_with(self, **changes: Any) -> Self:
        """A copy with some fields changed (see :meth:`ImageGenError.copy_with`), choices kept."""
        copy = super().copy_with(**changes)
        copy.choices = self.choices
        return copy


def strict_plugins(strict: bool | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Resolve strict mode: the explicit argument wins, else ``IMAGEGEN_STRICT_PLUGINS``.

    Raises:
        PluginError: The variable holds something that is neither on nor off.
    """
    if strict is not None:
        return strict
    raw = (os.environ if environ is None else environ).get(ENV_STRICT_PLUGINS, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise PluginError(f"{ENV_STRICT_PLUGINS}={raw!r} is not understood; use 1 (on) or 0 (off)")


def selected_backend_name(environ: Mapping[str, str] | None = None) -> str | None:
    """The backend named by ``IMAGEGEN_BACKEND``, or None when it is unset or blank."""
    value = (os.environ if environ is None else environ).get(ENV_BACKEND, "").strip()
    return value or None


def _names(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class PluginFilter:
    """Which backend names may be loaded, from the allow- and deny-list variables.

    ``allowed=None`` means every installed backend is allowed; an empty set
    allows none. A name on both lists is denied: switching a plugin off must
    always work.
    """

    allowed: frozenset[str] | None = None
    denied: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PluginFilter:
        """Read ``IMAGEGEN_LOAD_PLUGINS`` and ``IMAGEGEN_DISABLE_PLUGINS``."""
        env = os.environ if environ is None else environ
        return cls(
            allowed=_names(env.get(ENV_LOAD_PLUGINS)),
            denied=_names(env.get(ENV_DISABLE_PLUGINS)) or frozenset(),
        )

    def allows(self, name: str) -> bool:
        """Whether the backend called ``name`` may be loaded."""
        return self.refusal(name) is None

    def refusal(self, name: str) -> str | None:
        """Why ``name`` may not be loaded, naming the variable to change; None if it may."""
        if name in self.denied:
            return f"backend {name!r} is disabled by {ENV_DISABLE_PLUGINS}"
        if self.allowed is not None and name not in self.allowed:
            listed = ", ".join(sorted(self.allowed)) or "none"
            return f"backend {name!r} is not in {ENV_LOAD_PLUGINS} (which allows: {listed})"
        return None
