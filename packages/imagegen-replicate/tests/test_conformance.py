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

from imagegen_replicate._models import FLUX_SCHNELL
from imagegen_testing.conformance import BackendConformance, ReplicateCassettes


class TestReplicateConformance(ReplicateCassettes, BackendConformance):
    # Pinned, so that a change to what flux-schnell is declared to support
    # fails here as well as in the backend's own tests.
    expected_capabilities = FLUX_SCHNELL.capabilities
