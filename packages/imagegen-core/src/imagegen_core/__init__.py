"""imagegen-core: one image-generation protocol, many backends, one Pipecat service.

This module is the protocol's front door: everything a backend author or an
app builder needs is exported here, and the modules behind it are private.
Three public subpackages/modules sit beside it, each a layer of its own:

- :mod:`imagegen_core.plugins`: finding and choosing backends (entry points);
- :mod:`imagegen_core.pipecat`: the Pipecat service (needs the ``pipecat``
  extra; the only place that imports Pipecat);
- :mod:`imagegen_core.http` and :mod:`imagegen_core.pixels`: helpers for
  backends (capped downloads, ``Retry-After``, session ownership) and for
  decoding images to pixels;
- :mod:`imagegen_core.cli`: the ``imagegen`` command.

Importing this package never imports Pipecat or aiohttp.
"""

from imagegen_core._addresses import AddressPolicy
from imagegen_core._backend import BackendItem, BackendSettings, Generation, ImageBackend
from imagegen_core._cancellation import (
    DEFAULT_CLEANUP_TIMEOUT,
    DEFAULT_SHUTDOWN_TIMEOUT,
    cleanup_in_background,
    finish_cleanup,
)
from imagegen_core._capabilities import Capabilities
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._inputs import (
    INPUT_MEDIA_TYPES,
    MAX_INPUT_IMAGE_BYTES,
    MAX_INPUT_IMAGE_PIXELS,
    MAX_INPUT_IMAGES,
    ImageRole,
    InputImage,
)
from imagegen_core._progress import (
    MAX_PROGRESS_MESSAGE_LENGTH,
    GenerationEvent,
    GenerationProgress,
)
from imagegen_core._redaction import REDACTED, redact
from imagegen_core._request import (
    MAX_IMAGES_PER_REQUEST,
    MAX_PROMPT_LENGTH,
    ImageRequest,
    ImageSize,
    OutputFormat,
    parse_aspect_ratio,
)
from imagegen_core._results import GeneratedImage, GenerationWarning, WarningKind, decode_data_url
from imagegen_core.plugins import (
    ENTRY_POINT_GROUP,
    BackendInfo,
    PluginError,
    available_backends,
    create_backend,
    hookimpl,
    load_backend_class,
    reset_plugin_cache,
)

__all__ = [
    "DEFAULT_CLEANUP_TIMEOUT",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "ENTRY_POINT_GROUP",
    "INPUT_MEDIA_TYPES",
    "MAX_IMAGES_PER_REQUEST",
    "MAX_INPUT_IMAGES",
    "MAX_INPUT_IMAGE_BYTES",
    "MAX_INPUT_IMAGE_PIXELS",
    "MAX_PROGRESS_MESSAGE_LENGTH",
    "MAX_PROMPT_LENGTH",
    "REDACTED",
    "AddressPolicy",
    "BackendInfo",
    "BackendItem",
    "BackendSettings",
    "Capabilities",
    "ErrorKind",
    "GeneratedImage",
    "Generation",
    "GenerationEvent",
    "GenerationProgress",
    "GenerationWarning",
    "ImageBackend",
    "ImageGenError",
    "ImageRequest",
    "ImageRole",
    "ImageSize",
    "InputImage",
    "OutputFormat",
    "PluginError",
    "WarningKind",
    "__version__",
    "available_backends",
    "cleanup_in_background",
    "create_backend",
    "decode_data_url",
    "finish_cleanup",
    "hookimpl",
    "load_backend_class",
    "parse_aspect_ratio",
    "redact",
    "reset_plugin_cache",
]

__version__ = "0.1.0"
