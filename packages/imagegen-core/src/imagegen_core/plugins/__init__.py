"""Backends as plugins: found through entry points, chosen by name, loaded one at a time.

A backend package declares an entry point in the ``imagegen.backends`` group
whose value is a module holding an ``@hookimpl`` of
``imagegen_register_backends(register)``; the entry point's name is the
backend's name. :func:`create_backend` chooses one (argument, then
``IMAGEGEN_BACKEND``, then the only installed backend) and imports only that
plugin; :func:`available_backends` lists them all, reporting broken ones
instead of failing. Test doubles live in a separate group,
``imagegen.test_backends``: they are used only when named explicitly, so
installing a testing kit never changes what production code selects.

The modules behind this front door are private: ``_hookspecs`` (the hook),
``_loader`` (one entry point in isolation), ``_environment`` (the variables),
``_registry`` (choosing and listing).
"""

from imagegen_core.plugins._environment import (
    ENV_BACKEND,
    ENV_DISABLE_PLUGINS,
    ENV_LOAD_PLUGINS,
    ENV_STRICT_PLUGINS,
    PluginError,
)
from imagegen_core.plugins._hookspecs import PROJECT_NAME, hookimpl
from imagegen_core.plugins._loader import reset_plugin_cache
from imagegen_core.plugins._registry import (
    ENTRY_POINT_GROUP,
    TEST_ENTRY_POINT_GROUP,
    BackendInfo,
    available_backends,
    create_backend,
    load_backend_class,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_BACKEND",
    "ENV_DISABLE_PLUGINS",
    "ENV_LOAD_PLUGINS",
    "ENV_STRICT_PLUGINS",
    "PROJECT_NAME",
    "TEST_ENTRY_POINT_GROUP",
    "BackendInfo",
    "PluginError",
    "available_backends",
    "create_backend",
    "hookimpl",
    "load_backend_class",
    "reset_plugin_cache",
]
