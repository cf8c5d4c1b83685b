"""The entry point's module: hands the backend class to imagegen's plugin loader."""

from collections.abc import Callable
from typing import Any

from acme_imagegen.backend import AcmeBackend
from imagegen_core import ImageBackend, hookimpl


@hookimpl
def imagegen_register_backends(register: Callable[[type[ImageBackend[Any]]], None]) -> None:
    """Register the one backend this package provides."""
    register(AcmeBackend)
