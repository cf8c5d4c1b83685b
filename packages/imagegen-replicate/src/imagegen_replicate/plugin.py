"""Entry-point module of the Replicate backend (``imagegen.backends: replicate``).

Kept to the one hook so that selecting another backend, or listing backends,
costs only this import; nothing here touches the network or Pipecat.
"""

from collections.abc import Callable
from typing import Any

from imagegen_core import ImageBackend, hookimpl
from imagegen_replicate.backend import ReplicateBackend


@hookimpl
def imagegen_register_backends(register: Callable[[type[ImageBackend[Any]]], None]) -> None:
    """Register :class:`ReplicateBackend`."""
    register(ReplicateBackend)
