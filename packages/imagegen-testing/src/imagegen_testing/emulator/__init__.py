"""A Replicate HTTP API emulator for flux-schnell, for tests and local runs.

It answers Replicate's prediction routes the way Replicate documents them
(statuses, sync mode, deadlines, problem+json errors, rate limits), produces
real images, and can be scripted to fail in the ways a client must survive.
See ``docs/replicate-emulator.md`` for the guide and the list of places where
Replicate's documentation is silent and the emulator guesses.

Usage::

    async with ReplicateEmulator() as emu:
        client = MyClient(base_url=emu.base_url, token=emu.api_token)
        emu.script(Fault.rate_limited(retry_after=0.05))
        ...
        assert emu.counters.cancels_received == 1
"""

from imagegen_testing.emulator.faults import (
    CREATE_ROUTES,
    Fault,
    FaultKind,
    FaultPlan,
    Latency,
    Route,
)
from imagegen_testing.emulator.lifecycle import ALL_NSFW
from imagegen_testing.emulator.schema import ASPECT_RATIOS, FLUX_SCHNELL, image_size
from imagegen_testing.emulator.server import (
    DEFAULT_DEPLOYMENT,
    EMULATOR_API_TOKEN,
    FLUX_SCHNELL_VERSION,
    ReplicateEmulator,
)
from imagegen_testing.emulator.state import Counters, PredictionRecord, Status

__all__ = [
    "ALL_NSFW",
    "ASPECT_RATIOS",
    "CREATE_ROUTES",
    "DEFAULT_DEPLOYMENT",
    "EMULATOR_API_TOKEN",
    "FLUX_SCHNELL",
    "FLUX_SCHNELL_VERSION",
    "Counters",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Latency",
    "PredictionRecord",
    "ReplicateEmulator",
    "Route",
    "Status",
    "image_size",
]
