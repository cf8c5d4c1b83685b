"""imagegen-openai: OpenAI's Images API (GPT Image, DALL-E) as an imagegen backend.

Built only on the public surface of ``imagegen-core``, as any third-party
backend would be, and without Pipecat: a Pipecat app drives it through
``imagegen_core.pipecat.BackendImageGenService(backend="openai")``.
"""

from imagegen_openai._models import DEFAULT_MODEL, MODEL_PROFILES, ModelProfile, profile_for
from imagegen_openai._settings import (
    API_KEY_ENV_VAR,
    BASE_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    OpenAISettings,
)
from imagegen_openai.backend import OpenAIBackend

__all__ = [
    "API_KEY_ENV_VAR",
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "MODEL_PROFILES",
    "ModelProfile",
    "OpenAIBackend",
    "OpenAISettings",
    "__version__",
    "profile_for",
]

__version__ = "0.1.0"
