"""The vcrpy configuration every imagegen cassette is recorded and replayed with.

It is a plain ``dict`` for ``vcr.VCR(**config)``, ``vcr.use_cassette(path,
**config)`` or pytest-recording's ``vcr_config`` fixture. It deliberately holds
no ``record_mode``: pytest-recording lets a ``record_mode`` in ``vcr_config``
override ``--record-mode`` on the command line, and recording must be decided
by the person running the command, not by a config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imagegen_testing.vcr.scrub import CassetteScrubber

__all__ = ["FILTERED_REQUEST_HEADERS", "MATCH_ON", "merged_vcr_config", "shared_vcr_config"]

FILTERED_REQUEST_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
)
"""Dropped from requests by vcrpy itself, before the scrubber looks for more."""

MATCH_ON: tuple[str, ...] = ("method", "scheme", "host", "port", "path", "query")
"""Requests replay by method and full URL; bodies differ with random seeds and JSON spacing."""

_FORBIDDEN = frozenset({"record_mode"})


def shared_vcr_config(scrubber: CassetteScrubber | None = None, **overrides: Any) -> dict[str, Any]:
    """Build the shared configuration, optionally with a backend's own additions.

    Args:
        scrubber: The filter to record through; a fresh one knowing no secrets
            (it still removes credential headers and token-shaped strings) when None.
        **overrides: Further vcrpy options (``match_on``, ``ignore_hosts``, ...),
            applied with :func:`merged_vcr_config`.

    Raises:
        ValueError: ``record_mode`` was passed; choose it on the command line
            (``--record-mode``) instead.
    """
    scrubber = scrubber if scrubber is not None else CassetteScrubber()
    base: dict[str, Any] = {
        "filter_headers": list(FILTERED_REQUEST_HEADERS),
        "before_record_request": [scrubber.before_record_request],
        "before_record_response": [scrubber.before_record_response],
        "match_on": list(MATCH_ON),
        # Bodies are stored already decoded by the scrubber (see its docstring);
        # vcrpy's own decoding would fail on aiohttp's pre-decoded bodies.
        "decode_compressed_response": False,
        "record_on_exception": False,
    }
    return merged_vcr_config(base, overrides)


def merged_vcr_config(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``extra`` vcrpy options on top of ``base``.

    Record and response hooks given in ``extra`` run after those in ``base``
    (the scrubber's) instead of replacing them, so an addition cannot switch
    the credential filtering off by accident.

    Raises:
        ValueError: ``extra`` sets ``record_mode``.
    """
    extras = dict(extra)
    if _FORBIDDEN & extras.keys():
        raise ValueError(
            "the shared VCR config must not fix the record mode: pass --record-mode "
            "on the pytest command line instead"
        )
    config = {key: list(value) if isinstance(value, list) else value for key, value in base.items()}
    for hook in ("before_record_request", "before_record_response"):
        more = extras.pop(hook, None)
        if more is not None:
            config.setdefault(hook, [])
            config[hook].extend(more if isinstance(more, list | tuple) else [more])
    config.update(extras)
    return config
