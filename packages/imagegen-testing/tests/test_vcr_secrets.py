"""Recognising credentials: the scrubber's redaction and the cassette scan share one definition."""

from pathlib import Path

import pytest
import yaml

from imagegen_testing.vcr import (
    REDACTED,
    find_secrets_in_cassette,
    find_secrets_in_text,
    redact_text,
)

TOKEN = "r8_SyntheticTestToken1234567890"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {TOKEN}", f"Authorization: Bearer {REDACTED}"),
        ("Authorization: Token abc123def456", f"Authorization: Token {REDACTED}"),
        (f"key={TOKEN}&x=1", f"key={REDACTED}&x=1"),
        ("sk-abcdefghijklmnopqrstuvwxyz", REDACTED),
        ("hf_abcdefghijklmnopqrstu", REDACTED),
    ],
)
def test_redact_text_catches_credential_shapes(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_text_leaves_prose_about_tokens_alone() -> None:
    prose = "You did not pass a valid authentication token; token expired yesterday"
    assert redact_text(prose) == prose


def test_redact_text_replaces_known_secrets_longest_first() -> None:
    assert redact_text("pw=hunter22 and hunter2", ["hunter2", "hunter22"]) == (
        f"pw={REDACTED} and {REDACTED}"
    )
    assert redact_text("abc", ["abc"]) == "abc", "secrets under 4 characters would shred words"


def test_findings_name_the_place_never_the_secret() -> None:
    findings = find_secrets_in_text(f"hello hunter2222 {TOKEN}", ["hunter2222"], where="body")
    assert findings[0].what == "known secret #1"
    assert findings[1].what.startswith("credential pattern")
    assert all("hunter2222" not in str(f) and TOKEN not in str(f) for f in findings)
    assert find_secrets_in_text("nothing to see", ["hunter2222"]) == []


def _cassette(tmp_path: Path, body: object) -> Path:
    path = tmp_path / "c.yaml"
    document = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": "https://x.test/", "body": None, "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {},
                    "body": {"string": body},
                },
            }
        ],
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_cassette_scan_sees_secrets_inside_binary_bodies(tmp_path: Path) -> None:
    # A binary body is stored base64-encoded, invisible to a plain text search.
    path = _cassette(tmp_path, b"\x89PNG\x00\xff" + TOKEN.encode() + b"\x00")
    assert TOKEN not in path.read_text()
    findings = find_secrets_in_cassette(path)
    assert findings
    assert "interactions[0].response.body.string" in findings[0].where


def test_cassette_scan_finds_known_secret_and_passes_clean_cassettes(tmp_path: Path) -> None:
    assert find_secrets_in_cassette(_cassette(tmp_path, "plain hello"), ["hunter2222"]) == []
    found = find_secrets_in_cassette(_cassette(tmp_path, "it is hunter2222"), ["hunter2222"])
    assert [f.what for f in found] == ["known secret #1"]
