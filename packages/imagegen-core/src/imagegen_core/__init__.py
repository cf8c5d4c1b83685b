"""imagegen-core: one image-generation protocol, many backends, one Pipecat service.

Importing this package never imports Pipecat; the Pipecat service lives in
:mod:`imagegen_core.pipecat_service` and is imported only when asked for.
"""

from imagegen_core.backend import BackendSettings, Generation, ImageBackend
from imagegen_core.cancellation import DEFAULT_CLEANUP_TIMEOUT, finish_cleanup
from imagegen_core.capabilities import Capabilities
from imagegen_core.errors import ErrorKind, ImageGenError
from imagegen_core.hookspecs import hookimpl
from imagegen_core.plugins import (
    ENTRY_POINT_GROUP,
    BackendInfo,
    PluginError,
    available_backends,
    create_backend,
    load_backend_class,
    reset_plugin_cache,
)
from imagegen_core.redaction import redact
from imagegen_core.request import (
    MAX_IMAGES_PER_REQUEST,
    MAX_PROMPT_LENGTH,
    ImageRequest,
    ImageSize,
    OutputFormat,
)
from imagegen_core.results import GeneratedImage, GenerationWarning, WarningKind, decode_data_url

__all__ = [
    "DEFAULT_CLEANUP_TIMEOUT",
    "ENTRY_POINT_GROUP",
    "MAX_IMAGES_PER_REQUEST",
    "MAX_PROMPT_LENGTH",
    "BackendInfo",
    "BackendSettings",
    "Capabilities",
    "ErrorKind",
    "GeneratedImage",
    "Generation",
    "GenerationWarning",
    "ImageBackend",
    "ImageGenError",
    "ImageRequest",
    "ImageSize",
    "OutputFormat",
    "PluginError",
    "WarningKind",
    "available_backends",
    "create_backend",
    "decode_data_url",
    "finish_cleanup",
    "hookimpl",
    "load_backend_class",
    "redact",
    "reset_plugin_cache",
]

__version__ = "0.1.0"
