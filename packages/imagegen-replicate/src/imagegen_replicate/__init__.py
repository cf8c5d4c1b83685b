"""imagegen-replicate: Replicate as an imagegen backend, and a drop-in Pipecat service.

``ReplicateBackend`` is the backend (no Pipecat in it). ``ReplicateImageGenService``
is the Pipecat service bound to it, with the constructor and ``Settings`` of the
old ``pipecat-replicate`` plugin. It is imported on first access, so that
``import imagegen_replicate`` never imports Pipecat: programs that only use the
backend (the CLI, batch jobs) do not pay for it, and a Pipecat upgrade cannot
break them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imagegen_replicate._models import DEFAULT_MODEL, ModelRef
from imagegen_replicate._settings import (
    BASE_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_DATA_URL_BYTES,
    DEFAULT_WAIT_SECONDS,
    TOKEN_ENV_VAR,
    InputNames,
    ReplicateSettings,
)
from imagegen_replicate.backend import ReplicateBackend

if TYPE_CHECKING:
    from imagegen_replicate.pipecat_service import ReplicateImageGenService

__all__ = [
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_DATA_URL_BYTES",
    "DEFAULT_MODEL",
    "DEFAULT_WAIT_SECONDS",
    "TOKEN_ENV_VAR",
    "InputNames",
    "ModelRef",
    "ReplicateBackend",
    "ReplicateImageGenService",
    "ReplicateSettings",
    "__version__",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "ReplicateImageGenService":
        try:
            from imagegen_replicate.pipecat_service import ReplicateImageGenService
        except ImportError as exc:
            if exc.name != "pipecat" and "needs Pipecat" not in str(exc):
                raise
            raise ImportError(
                "ReplicateImageGenService needs Pipecat: install the extra with "
                '`pip install "imagegen-replicate[pipecat]"`'
            ) from exc
        return ReplicateImageGenService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
