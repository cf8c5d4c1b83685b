"""Entry-point module of the fake backend: ``imagegen.test_backends: fake``.

It is a test double, in the test-only group: used only when named.

This is all a plugin module needs: one ``@hookimpl`` that registers the class.
"""

from collections.abc import Callable
from typing import Any

from imagegen_core import ImageBackend, hookimpl
from imagegen_testing.fake.backend import FakeBackend


@hookimpl
def imagegen_register_backends(register: Callable[[type[ImageBackend[Any]]], None]) -> None:
    """Register :class:`FakeBackend`."""
    register(FakeBackend)
