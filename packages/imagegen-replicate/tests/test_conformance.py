"""The Replicate backend passes imagegen's conformance suite, replaying shipped cassettes.

The cassettes ship in imagegen-testing (``imagegen_testing/cassettes/replicate``),
recorded against the bundled emulator with the settings of
:class:`~imagegen_testing.conformance.ReplicateCassettes`; their URLs are
rewritten to ``api.replicate.com`` and ``replicate.delivery``, so replay needs
neither the emulator nor a network. Record them again with::

    uv run pytest packages/imagegen-replicate/tests/test_conformance.py --record-mode=rewrite

This records against the emulator when ``REPLICATE_API_TOKEN`` is unset (how
the shipped cassettes were made) and against the live API when it is set; live,
the failure and cancellation scenarios skip and keep their emulator cassettes.
``IMAGEGEN_RECORD_LIVE=0`` keeps a recording on the emulator despite a token.
"""

from __future__ import annotations

from imagegen_replicate._models import FLUX_SCHNELL, KNOWN_MODELS
from imagegen_testing.cassettes import cassette_dir
from imagegen_testing.conformance import BackendConformance, ReplicateCassettes
from imagegen_testing.conformance.replicate import REPLICATE_REPLAY_SETTINGS
from imagegen_testing.emulator import SDXL, SDXL_VERSION


class TestReplicateConformance(ReplicateCassettes, BackendConformance):
    # Pinned, so that a change to what flux-schnell is declared to support
    # fails here as well as in the backend's own tests.
    expected_capabilities = FLUX_SCHNELL.capabilities


class TestReplicateSdxlConformance(ReplicateCassettes, BackendConformance):
    """SDXL by version: an image input (``image``) and a mask, and tqdm progress in its logs.

    Its cassettes are in ``cassettes/replicate-sdxl``; the edit test's shows the
    image reaching the model as ``image``, the progress test's the polled logs.
    """

    backend_settings = {
        **REPLICATE_REPLAY_SETTINGS,
        "model": f"{SDXL}:{SDXL_VERSION}",
        "inputs": {"width": 256, "height": 256, "num_inference_steps": 4},
    }
    cassette_dir = cassette_dir("replicate-sdxl")
    expected_capabilities = KNOWN_MODELS[SDXL].capabilities
    reports_progress = True
