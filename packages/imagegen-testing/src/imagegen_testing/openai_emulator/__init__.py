"""An OpenAI Images API emulator, for tests and local runs without an account.

It answers ``POST /v1/images/generations`` (JSON) and ``/v1/images/edits``
(multipart, several ``image[]`` parts and a ``mask``), and the Azure OpenAI
shape ``/openai/deployments/{name}/images/...?api-version=...`` with the
``api-key`` header, the way OpenAI documents them: per-model validation,
base64 outputs with token ``usage``, DALL-E's ``url`` outputs, streamed
``partial_image`` and ``completed`` events, ``{"error": {...}}`` bodies with
OpenAI's codes, ``x-ratelimit-*`` headers. It can be scripted to fail in the
ways a client must survive (:class:`OpenAIFault`).

Sources: OpenAI's API reference for the two routes, their parameters and the
stream events (``image_generation.partial_image`` / ``.completed``,
``image_edit.*``, with ``b64_json``, ``partial_image_index``, ``usage``), its
error-code guide (``invalid_api_key``, ``rate_limit_exceeded``,
``insufficient_quota``, ``moderation_blocked``, ``content_policy_violation``),
its rate-limit header list, and Azure OpenAI's REST reference (deployments in
the path, ``api-version``, ``api-key``).

Where those are silent, the emulator guesses:

* with ``n`` above 1, a stream sends each image's previews and then its
  ``completed`` event before the next image's (events carry no image index);
* every ``completed`` event carries the whole call's ``usage``;
* a failure in mid-stream is an ``error`` event ``{"type": "error", "error":
  {...}}``, after which the stream ends;
* ``size`` ``auto`` renders 1024x1024 for generations and, for edits, the
  model size nearest the first image's aspect ratio; ``quality`` ``auto`` is
  reported and billed as ``medium``, ``background`` ``auto`` as ``opaque``;
* ``output_compression`` with png output is ignored, not refused;
* the token arithmetic (see :mod:`~imagegen_testing.openai_emulator.models`)
  and the rate-limit buckets (see :mod:`~imagegen_testing.openai_emulator.state`);
* no ``Retry-After`` on throttling, only the reset headers;
* a client that disconnects stops its generation (OpenAI does not say whether
  it finishes, and bills, the images; the emulator counts the disconnect);
* refusals by the safety system are triggered by :data:`MODERATION_MARKER`
  in the prompt, or scripted;
* the wording of messages the documentation does not quote.

Usage::

    async with OpenAIEmulator() as emu:
        backend = OpenAIBackend({"base_url": emu.base_url, "api_key": emu.api_key})
        emu.script(OpenAIFault.rate_limited(reset="1s"))
        ...
        assert emu.counters.images_generated == 1
"""

from imagegen_testing.openai_emulator.faults import (
    OpenAIFault,
    OpenAIFaultKind,
    OpenAIFaultPlan,
    OpenAIRoute,
)
from imagegen_testing.openai_emulator.models import MODELS, EmulatedModel
from imagegen_testing.openai_emulator.server import (
    DEFAULT_DEPLOYMENT,
    EMULATOR_API_KEY,
    MODERATION_MARKER,
    OpenAIEmulator,
)
from imagegen_testing.openai_emulator.state import OpenAICounters, RecordedRequest

__all__ = [
    "DEFAULT_DEPLOYMENT",
    "EMULATOR_API_KEY",
    "MODELS",
    "MODERATION_MARKER",
    "EmulatedModel",
    "OpenAICounters",
    "OpenAIEmulator",
    "OpenAIFault",
    "OpenAIFaultKind",
    "OpenAIFaultPlan",
    "OpenAIRoute",
    "RecordedRequest",
]
