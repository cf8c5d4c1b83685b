"""Recognising credentials in recorded traffic, and proving a cassette holds none.

Cassettes are committed to repositories and shipped inside wheels, so a token
that slips into one is published. Two nets catch it: exact values the test
knows are secret (the token it configured), and shapes that look like
credentials whatever their value (``Bearer ...``, Replicate's ``r8_...``).
The same definitions drive both the scrubbing while recording and the scan
afterwards, so the scan checks exactly what the scrubber promised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagegen_core import REDACTED

__all__ = [
    "REDACTED",
    "SENSITIVE_NAME",
    "TOKEN_PATTERNS",
    "SecretFinding",
    "find_secrets_in_cassette",
    "find_secrets_in_text",
    "redact_text",
]


SENSITIVE_NAME = re.compile(
    r"(?i)^(key|sig|code)$|auth|token|api[-_]?key|secret|password|passwd|cookie|session"
    r"|signature|credential"
)
"""Header, query-parameter and JSON-field names whose values are credentials."""

TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    # "Token <value>" (Replicate's legacy scheme), but not prose such as "token expired".
    re.compile(r"(?i)\btoken\s+(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}"),
    # Not \b: in bytes decoded as Latin-1 the byte before a token is often a "letter".
    re.compile(r"(?<![A-Za-z0-9])r8_[A-Za-z0-9]{8,}"),  # Replicate API tokens
    re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{16,}"),  # Hugging Face tokens
)
"""Shapes of credentials, recognised whatever their value."""

_MIN_SECRET_LENGTH = 4  # shorter values would shred ordinary words, as imagegen_core.redact says


def _usable(secrets: Iterable[str]) -> list[str]:
    return sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known secrets and anything shaped like a credential in ``text``."""
    for secret in _usable(secrets):
        text = text.replace(secret, REDACTED)
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(_keep_scheme, text)
    return text


def _keep_scheme(match: re.Match[str]) -> str:
    # "Bearer abc..." keeps its scheme word so a reader sees what was there.
    scheme, _, _ = match[0].partition(" ")
    return f"{scheme} {REDACTED}" if scheme.lower() in {"bearer", "token"} else REDACTED


@dataclass(frozen=True)
class SecretFinding:
    """One credential found where none may be; never holds the secret itself.

    Args:
        where: Which part of the cassette (``interactions[2].response.body``).
        what: Which net caught it: ``known secret #N`` or the pattern's name.
    """

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.what} in {self.where}"


def find_secrets_in_text(
    text: str, secrets: Iterable[str] = (), *, where: str = "text"
) -> list[SecretFinding]:
    """Every known secret and credential-shaped string in ``text``."""
    findings = [
        SecretFinding(where, f"known secret #{number}")
        for number, secret in enumerate(_usable(secrets), start=1)
        if secret in text
    ]
    for pattern in TOKEN_PATTERNS:
        if pattern.search(text):
            findings.append(SecretFinding(where, f"credential pattern {pattern.pattern!r}"))
    return findings


def find_secrets_in_cassette(path: str | Path, secrets: Iterable[str] = ()) -> list[SecretFinding]:
    """Scan a YAML or JSON cassette: its raw text and every decoded value in it.

    Binary bodies are stored base64-encoded (``!!binary``), where a plain text
    search cannot see a token, so the cassette is also loaded and each string
    and byte string inside it is searched.
    """
    import yaml  # type: ignore[import-untyped]  # vcrpy's dependency; imported lazily, it is slow

    path = Path(path)
    wanted = _usable(secrets)
    text = path.read_text(encoding="utf-8")
    document = yaml.safe_load(text) if path.suffix in {".yaml", ".yml"} else _load_json(text)
    findings: list[SecretFinding] = []
    for where, value in _walk(document, path.name):
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        findings.extend(find_secrets_in_text(value, wanted, where=where))
    # The raw text as well, for anything outside the values (comments, say),
    # reported only when the values did not already explain it.
    explained = {finding.what for finding in findings}
    findings.extend(
        f for f in find_secrets_in_text(text, wanted, where=path.name) if f.what not in explained
    )
    return list(dict.fromkeys(findings))


def _load_json(text: str) -> Any:
    import json

    return json.loads(text)


def _walk(value: Any, where: str) -> Iterator[tuple[str, str | bytes]]:
    if isinstance(value, str | bytes):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(str(key), f"{where}.<key>")
            yield from _walk(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}[{index}]")
