"""Old import path of the Pipecat service, kept so existing code keeps working.

The service moved to :mod:`imagegen_core.pipecat`; import from there. This
module re-exports the same objects (``BackendImageGenService`` is one class,
whichever path it came from) and warns once on import.
"""

import warnings

from imagegen_core.pipecat import *  # noqa: F403 - a re-export shim by design
from imagegen_core.pipecat import __all__ as __all__
from imagegen_core.pipecat import __getattr__ as __getattr__

warnings.warn(
    "imagegen_core.pipecat_service is now imagegen_core.pipecat",
    DeprecationWarning,
    stacklevel=2,
)
