"""The Replicate cassettes shipped in the package: complete, canonical, small, and secret-free."""

import base64
import re
from pathlib import Path

import pytest
import yaml

from imagegen_testing.cassettes import CASSETTES_ROOT, cassette_dir, shipped_cassettes
from imagegen_testing.conformance.replicate import REPLICATE_INVALID_AUTH_SETTINGS
from imagegen_testing.emulator import EMULATOR_API_TOKEN
from imagegen_testing.vcr import find_secrets_in_cassette
from imagegen_testing.vcr.shrink import SMALL_ENOUGH

# The standard scenarios (basic, several outputs, invalid token, failed
# prediction) and the suite's other network-bound tests.
REPLICATE_SCENARIOS = {
    "test_generate_one",
    "test_generate_several",
    "test_authentication_error",
    "test_failure_error_kind",
    "test_unsupported_setting_warns",
    "test_cancellation",
    "test_pipecat_round_trip",
    "test_secrets_stay_secret",
}
KNOWN_SECRETS = [EMULATOR_API_TOKEN, REPLICATE_INVALID_AUTH_SETTINGS["api_token"]]
CASSETTES = shipped_cassettes()


def _interactions(path: Path) -> list[dict[str, object]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]


def test_every_replicate_scenario_has_a_cassette() -> None:
    present = {p.stem for p in cassette_dir("replicate").glob("*.yaml")}
    assert present == REPLICATE_SCENARIOS


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: str(p.relative_to(CASSETTES_ROOT)))
def test_no_shipped_cassette_holds_a_secret(path: Path) -> None:
    assert find_secrets_in_cassette(path, KNOWN_SECRETS) == []
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?i)\bbearer\b", text)
    assert "r8_" not in text
    assert not re.search(r"(?im)^\s*authorization:", text)


_B64_IMAGE = re.compile(r'(?<="b64_json": ")[A-Za-z0-9+/=]+')

CANONICAL_PREFIXES = (
    "https://api.replicate.com/v1/",
    "https://replicate.delivery/",
    "https://api.openai.com/v1/",
)


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: str(p.relative_to(CASSETTES_ROOT)))
def test_shipped_cassettes_are_canonical_and_small(path: Path) -> None:
    for interaction in _interactions(path):
        request, response = interaction["request"], interaction["response"]
        assert isinstance(request, dict)
        assert isinstance(response, dict)
        assert str(request["uri"]).startswith(CANONICAL_PREFIXES), request["uri"]
        body = response["body"].get("string") or b""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        # Inline base64 images (OpenAI's b64_json) are each held to the limit on their own.
        for payload in _B64_IMAGE.findall(text):
            assert len(base64.b64decode(payload)) <= SMALL_ENOUGH, f"{request['uri']}: image"
        rest = _B64_IMAGE.sub("", text)
        assert len(rest) <= SMALL_ENOUGH, f"{request['uri']}: {len(rest)} bytes"
    assert "127.0.0.1" not in path.read_text(encoding="utf-8")


def test_the_failure_and_cancellation_cassettes_show_what_they_claim() -> None:
    failed = _interactions(cassette_dir("replicate") / "test_failure_error_kind.yaml")
    assert any('"status": "failed"' in str(i["response"]["body"]["string"]) for i in failed)
    cancelled = _interactions(cassette_dir("replicate") / "test_cancellation.yaml")
    assert str(cancelled[-1]["request"]["uri"]).endswith("/cancel")
    rejected = _interactions(cassette_dir("replicate") / "test_authentication_error.yaml")
    assert [i["response"]["status"]["code"] for i in rejected] == [401]


def test_the_openai_failure_and_rejection_cassettes_show_what_they_claim() -> None:
    failed = _interactions(cassette_dir("openai") / "test_failure_error_kind.yaml")
    assert [i["response"]["status"]["code"] for i in failed] == [500]
    rejected = _interactions(cassette_dir("openai") / "test_authentication_error.yaml")
    assert [i["response"]["status"]["code"] for i in rejected] == [401]
    assert "invalid_api_key" in str(rejected[0]["response"]["body"]["string"])
