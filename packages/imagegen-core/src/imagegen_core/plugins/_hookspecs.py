"""The pluggy hook a backend plugin implements.

A plugin is a module named by an entry point in the ``imagegen.backends``
group. It holds one ``@hookimpl`` of :func:`imagegen_register_backends` and
hands its backend class to ``register``; the entry point's name is the
backend's name. Keeping to a single collector hook (rather than one hook per
capability) means the protocol can grow on the backend class, not in pluggy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from imagegen_core._backend import ImageBackend

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec", "imagegen_register_backends"]

PROJECT_NAME = "imagegen"
"""The pluggy project name shared by the hook specification and implementations."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Decorate a plugin module's hook functions with this."""


@hookspec
def imagegen_register_backends(register: Callable[[type[ImageBackend]], None]) -> None:  # type: ignore[type-arg]
    """Hand the plugin's backend class to the core.

    Call ``register(MyBackend)`` exactly once. Do no network or other slow work
    here: listing backends calls every plugin's hook.
    """
