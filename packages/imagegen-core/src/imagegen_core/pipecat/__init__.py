"""The Pipecat service that drives any imagegen backend: the one place Pipecat is imported.

Install it with the ``pipecat`` extra (``pip install "imagegen-core[pipecat]"``;
every Pipecat app has Pipecat already). What lives here, each in a private
module of its own:

- ``_service``: :class:`BackendImageGenService` (provider-neutral settings) and
  :class:`BaseBackendImageGenService`, the generic base for a service with
  settings names of its own (``ReplicateImageGenService``);
- ``_settings``: the settings dataclasses and :class:`ImageGenUpdateSettingsFrame`;
- ``_frames``: the frames editing and progress add: :class:`ImageGenEditFrame`
  (in), :class:`ImageGenProgressFrame` and :class:`ImageGenPreviewFrame` (out);
- ``_references``: the images a conversation refers to (the service's last
  image, the user's camera frame) and :func:`input_image_from_frame`;
- ``_failover``: :func:`failure_policy`, which error kinds make the service
  unusable so ``ServiceSwitcher`` fails over;
- ``_running``: :func:`pipeline_task` and :func:`run_pipeline_task`, which
  build and run a pipeline under the names of whichever Pipecat is installed;
- ``_tools``: Pipecat's ``FunctionSchema`` and ``ToolsSchema`` (for a tool
  that lets an LLM draw), from wherever the installed release keeps them;
- ``_compat``: every difference between supported Pipecat releases, bridged
  by feature detection.

When Pipecat changes, this folder changes, and nothing else.
"""

from typing import Any

try:
    import pipecat as _pipecat  # noqa: F401 - imported to give a useful error
except ImportError as exc:  # pragma: no cover - exercised by the no-Pipecat nox session
    raise ImportError(
        "imagegen_core.pipecat needs Pipecat: install the extra with "
        '`pip install "imagegen-core[pipecat]"` (or `uv add "imagegen-core[pipecat]"`)'
    ) from exc

from imagegen_core._decoding import DEFAULT_MAX_PIXELS
from imagegen_core._downloads import DEFAULT_DOWNLOAD_TIMEOUT, DEFAULT_MAX_DOWNLOAD_BYTES
from imagegen_core.pipecat._compat import (
    NOT_GIVEN,
    NotGivenType,
    given,
    given_settings,
    is_given,
)
from imagegen_core.pipecat._failover import FailurePolicy, failure_policy
from imagegen_core.pipecat._frames import (
    ImageGenEditFrame,
    ImageGenPreviewFrame,
    ImageGenProgressFrame,
)
from imagegen_core.pipecat._references import input_image_from_frame
from imagegen_core.pipecat._running import pipeline_task, run_pipeline_task
from imagegen_core.pipecat._service import BackendImageGenService, BaseBackendImageGenService
from imagegen_core.pipecat._settings import (
    BackendImageGenSettings,
    ImageGenSettings,
    ImageGenUpdateSettingsFrame,
    not_given,
)
from imagegen_core.pipecat._tools import FunctionSchema, ToolsSchema

__all__ = [
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_PIXELS",
    "NOT_GIVEN",
    "BackendImageGenService",
    "BackendImageGenSettings",
    "BaseBackendImageGenService",
    "FailurePolicy",
    "FunctionSchema",
    "ImageGenEditFrame",
    "ImageGenPreviewFrame",
    "ImageGenProgressFrame",
    "ImageGenSettings",
    "ImageGenUpdateSettingsFrame",
    "NotGivenType",
    "ToolsSchema",
    "failure_policy",
    "given",
    "given_settings",
    "input_image_from_frame",
    "is_given",
    "not_given",
    "pipeline_task",
    "run_pipeline_task",
]

_RENAMED = {"BackendImageGenServiceBase": "BaseBackendImageGenService"}


def __getattr__(name: str) -> Any:
    """Old names, kept working (and hidden from module listings, so health probes see one base)."""
    if name in _RENAMED:
        import warnings

        warnings.warn(f"{name} is now {_RENAMED[name]}", DeprecationWarning, stacklevel=2)
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
