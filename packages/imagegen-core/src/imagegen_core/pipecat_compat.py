"""Old import path of the Pipecat helpers (``failure_policy``, ``NOT_GIVEN``...), kept working.

They moved to :mod:`imagegen_core.pipecat`; import from there.
"""

import warnings

from imagegen_core.pipecat import (
    NOT_GIVEN,
    FailurePolicy,
    NotGivenType,
    failure_policy,
    given,
    is_given,
)

__all__ = ["NOT_GIVEN", "FailurePolicy", "NotGivenType", "failure_policy", "given", "is_given"]

warnings.warn(
    "imagegen_core.pipecat_compat is now imagegen_core.pipecat",
    DeprecationWarning,
    stacklevel=2,
)
