"""The OpenAI backend passes imagegen's conformance suite, replaying shipped cassettes.

The cassettes ship in imagegen-testing (``imagegen_testing/cassettes/openai``),
recorded against the bundled emulator with the settings of
:class:`~imagegen_testing.conformance.OpenAICassettes`; their URLs are
rewritten to ``api.openai.com``, so replay needs neither the emulator nor a
network. Record them again with::

    uv run pytest packages/imagegen-openai/tests/test_conformance.py --record-mode=rewrite

This records against the emulator when ``OPENAI_API_KEY`` is unset (how the
shipped cassettes were made) and against the live API when it is set; live,
the failure and cancellation scenarios skip and keep their emulator cassettes.
"""

from __future__ import annotations

from imagegen_openai import profile_for
from imagegen_testing.conformance import BackendConformance, OpenAICassettes


class TestOpenAIConformance(OpenAICassettes, BackendConformance):
    # Pinned, so that a change to what the model is declared to support fails here too.
    expected_capabilities = profile_for("gpt-image-1-mini").capabilities()
