"""Entry-point module of the OpenAI backend (``imagegen.backends: openai``).

Kept to the one hook so that selecting another backend, or listing backends,
costs only this import; nothing here touches the network.
"""

from collections.abc import Callable
from typing import Any

from imagegen_core import ImageBackend, hookimpl
from imagegen_openai.backend import OpenAIBackend


@hookimpl
def imagegen_register_backends(register: Callable[[type[ImageBackend[Any]]], None]) -> None:
    """Register :class:`OpenAIBackend`."""
    register(OpenAIBackend)
