"""A Replicate HTTP API emulator, for tests and local runs.

It answers Replicate's prediction routes the way Replicate documents them
(statuses, sync mode, deadlines, problem+json errors, rate limits), serves
models whose OpenAPI schemas are shaped like the real ones' (flux-schnell,
FLUX Kontext's ``input_image``, multi-image ``image_input``/``input_images``,
sdxl's ``image``/``mask`` with tqdm progress in ``logs``, an iterator model
that yields previews; see :mod:`imagegen_testing.emulator.models`), the
model/version/deployment routes that return those schemas, and the files API
(see :mod:`imagegen_testing.emulator.files`). It produces real images, and
can be scripted to fail in the ways a client must survive.
See ``docs/replicate-emulator.md`` for the guide.

Sources: Replicate's OpenAPI schema (routes, headers, the prediction object,
``Cancel-After`` format and minimum, ``aborted``), its docs (sync mode, rate
limits, data removal, ``replicate.delivery``), recorded real responses
(``Preference-Applied``, ``ratelimit-*`` headers, 401/422 bodies, ``data:``
outputs of October 2024) and flux-schnell's predictor (sizes, NSFW handling).

Where those are silent, the emulator guesses:

* a malformed ``Prefer`` or ``Cancel-After`` value is a ``400`` problem;
* the wording of ``404`` bodies, and ``404`` (not ``422``) for unknown
  models and deployments on their own routes;
* the token-bucket arithmetic behind ``ratelimit-remaining``/``-reset``, and
  ``Retry-After`` on real throttling;
* ``metrics.image_count`` on success, and the wording of log lines;
* ``data:`` URLs only in sync replies and only when switched on (Replicate
  rolled them back and documents no opt-in);
* a user cancel of a ``starting`` prediction is ``canceled`` (``aborted`` is
  documented for deadlines only);
* output files live on the emulator under ``/delivery/``, not on another host.

Usage::

    async with ReplicateEmulator() as emu:
        client = MyClient(base_url=emu.base_url, token=emu.api_token)
        emu.script(Fault.rate_limited(retry_after=0.05))
        ...
        assert emu.counters.cancels_received == 1
"""

from imagegen_testing.emulator.faults import (
    CREATE_ROUTES,
    FILES_ROUTES,
    SCHEMA_ROUTES,
    Fault,
    FaultKind,
    FaultPlan,
    Latency,
    Route,
)
from imagegen_testing.emulator.files import (
    DEFAULT_FILE_TTL,
    MAX_FILENAME_BYTES,
    MAX_UPLOAD_BYTES,
    UploadedFile,
)
from imagegen_testing.emulator.lifecycle import ALL_NSFW
from imagegen_testing.emulator.models import (
    BUILTIN_MODELS,
    FLUX_2_PRO,
    FLUX_KONTEXT_PRO,
    FLUX_SCHNELL_VERSION,
    NANO_BANANA,
    PREVIEW_STREAM,
    SDXL,
    SDXL_VERSION,
    EmulatedModel,
    ImageInput,
)
from imagegen_testing.emulator.schema import ASPECT_RATIOS, FLUX_SCHNELL, image_size
from imagegen_testing.emulator.server import (
    DEFAULT_DEPLOYMENT,
    EMULATOR_API_TOKEN,
    ReplicateEmulator,
)
from imagegen_testing.emulator.state import Counters, PredictionRecord, Status

__all__ = [
    "ALL_NSFW",
    "ASPECT_RATIOS",
    "BUILTIN_MODELS",
    "CREATE_ROUTES",
    "DEFAULT_DEPLOYMENT",
    "DEFAULT_FILE_TTL",
    "EMULATOR_API_TOKEN",
    "FILES_ROUTES",
    "FLUX_2_PRO",
    "FLUX_KONTEXT_PRO",
    "FLUX_SCHNELL",
    "FLUX_SCHNELL_VERSION",
    "MAX_FILENAME_BYTES",
    "MAX_UPLOAD_BYTES",
    "NANO_BANANA",
    "PREVIEW_STREAM",
    "SCHEMA_ROUTES",
    "SDXL",
    "SDXL_VERSION",
    "Counters",
    "EmulatedModel",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "ImageInput",
    "Latency",
    "PredictionRecord",
    "ReplicateEmulator",
    "Route",
    "Status",
    "UploadedFile",
    "image_size",
]
