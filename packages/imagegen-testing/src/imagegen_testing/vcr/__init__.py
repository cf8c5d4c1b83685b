"""VCR tooling shared by every imagegen cassette: filtering, shrinking, record/replay rules.

Record and replay with pytest-recording's ``--record-mode`` (``none``, the
default, only replays; ``once`` records missing cassettes; ``rewrite`` records
all again). Give pytest-recording this package's configuration::

    @pytest.fixture
    def vcr_config():
        return shared_vcr_config()

:class:`~imagegen_testing.conformance.BackendConformance` does all of this for
a backend's standard tests; see ``docs/writing-a-backend.md``.
"""

from imagegen_testing.vcr.aiohttp_fixes import resolve_aiohttp_base_url
from imagegen_testing.vcr.commands import LIVE_OPT_IN, missing_cassette_message, record_command
from imagegen_testing.vcr.config import (
    FILTERED_REQUEST_HEADERS,
    MATCH_ON,
    merged_vcr_config,
    shared_vcr_config,
)
from imagegen_testing.vcr.scrub import CassetteScrubber
from imagegen_testing.vcr.secrets import (
    REDACTED,
    TOKEN_PATTERNS,
    SecretFinding,
    find_secrets_in_cassette,
    find_secrets_in_text,
    redact_text,
)
from imagegen_testing.vcr.shrink import shrink_base64_image, shrink_data_url, shrink_image

__all__ = [
    "FILTERED_REQUEST_HEADERS",
    "LIVE_OPT_IN",
    "MATCH_ON",
    "REDACTED",
    "TOKEN_PATTERNS",
    "CassetteScrubber",
    "SecretFinding",
    "find_secrets_in_cassette",
    "find_secrets_in_text",
    "merged_vcr_config",
    "missing_cassette_message",
    "record_command",
    "redact_text",
    "resolve_aiohttp_base_url",
    "shared_vcr_config",
    "shrink_base64_image",
    "shrink_data_url",
    "shrink_image",
]
