"""The standard imagegen backend tests, replaying the cassettes in tests/cassettes/.

Record them again (against the Replicate emulator, which stands in for Acme's
API; no account, no cost) with::

    python -m pytest tests/test_conformance.py --record-mode=rewrite
"""

from pathlib import Path

from imagegen_core import ErrorKind
from imagegen_testing.conformance import BackendConformance, ReplicateProvider


class TestAcmeConformance(BackendConformance):
    backend = "acme"  # the entry-point name
    # The settings every test uses. Replays need no real key: the cassette answers.
    backend_settings = {"api_key": "replay-key-0000", "megapixels": "0.25", "poll_interval": 0.05}
    invalid_auth_settings = {"api_key": "rejected-key-0000"}  # a key the service refuses
    failure_kind = ErrorKind.SERVER  # what a failed job raises
    cassette_dir = Path(__file__).parent / "cassettes"

    def live_provider(self) -> ReplicateProvider:
        # Recording goes to the bundled emulator, scripted per scenario. For a
        # provider of your own, return a LiveProvider (docs: writing a backend).
        return ReplicateProvider(token_setting="api_key", live=False)
