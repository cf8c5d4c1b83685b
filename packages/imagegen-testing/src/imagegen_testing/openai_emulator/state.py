"""The emulator's state: key, limits, counters, recorded requests, stored files.

Rate limits follow OpenAI's headers: ``x-ratelimit-limit-requests``,
``-remaining-requests``, ``-reset-requests`` and the same for tokens, resets
written as durations (``1s``, ``6m0s``, ``20ms``). The emulator's guesses:
one token bucket per limit refilled continuously (the Replicate emulator's),
every request charged one request and 1,000 tokens, and a throttled request
answered ``429 rate_limit_exceeded`` without ``Retry-After`` (OpenAI's
documentation names only the ``x-ratelimit-*`` headers).
"""

from __future__ import annotations

import random
import socket
import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imagegen_testing.clock import Clock, wall_clock
from imagegen_testing.emulator.ratelimit import TokenBucket
from imagegen_testing.openai_emulator.faults import OpenAIFaultKind, OpenAIFaultPlan, OpenAIRoute
from imagegen_testing.openai_emulator.images import Upload
from imagegen_testing.openai_emulator.problems import ApiProblem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp import web

__all__ = [
    "EmulatorState",
    "OpenAICounters",
    "RecordedRequest",
    "drop_connection",
    "format_duration",
]

TOKENS_PER_REQUEST = 1_000
"""Tokens each request is charged against the token limit (the token bucket counts in these)."""
_RECORDED_HEADERS = (
    "OpenAI-Organization",
    "OpenAI-Project",
    "User-Agent",
    "Accept",
    "Content-Type",
)


def _scale(limit: str) -> int:
    return TOKENS_PER_REQUEST if limit == "tokens" else 1


def format_duration(seconds: float) -> str:
    """A reset time the way OpenAI writes it: ``20ms``, ``1s``, ``6m0s``, ``1h2m3s``."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def drop_connection(request: web.Request, *, reset: bool) -> None:
    """Close the request's connection: with RST when ``reset``, else a plain close mid-reply."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: closing sends RST, not FIN; clients see "connection reset by peer".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


@dataclass(frozen=True)
class RecordedRequest:
    """One API request as the emulator saw it, for tests to assert on (never the key)."""

    route: OpenAIRoute
    fields: dict[str, Any]
    uploads: tuple[Upload, ...]
    mask: Upload | None
    headers: dict[str, str]
    query: dict[str, str]
    deployment: str | None

    @classmethod
    def of(
        cls,
        request: web.Request,
        fields: Mapping[str, Any],
        uploads: list[Upload],
        mask: Upload | None,
        *,
        route: OpenAIRoute,
    ) -> RecordedRequest:
        """Record ``request`` with its parsed fields."""
        return cls(
            route=route,
            fields=dict(fields),
            uploads=tuple(uploads),
            mask=mask,
            headers={k: request.headers[k] for k in _RECORDED_HEADERS if k in request.headers},
            query=dict(request.query),
            deployment=request.match_info.get("deployment"),
        )


class OpenAICounters:
    """What happened, for tests to assert on."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Start counting from zero."""
        self.requests: Counter[OpenAIRoute] = Counter()
        """Requests received, by route (including rejected and faulted ones)."""
        self.responses: Counter[int] = Counter()
        """Replies sent, by HTTP status (resets are not replies)."""
        self.faults_injected: Counter[OpenAIFaultKind] = Counter()
        self.auth_schemes: Counter[str] = Counter()
        """How the key was sent: ``bearer`` or ``api-key``."""
        self.images_generated = 0
        """Images made, and so billed, including those of replies the client never read."""
        self.previews_sent = 0
        self.throttled = 0
        """Requests refused by the emulator's own rate limiter (not scripted 429s)."""
        self.disconnects = 0
        """Generations whose client went away before the reply was complete."""
        self.generating = 0
        """Generations in progress right now."""
        self.files_with_authorization = 0
        """Downloads of output links that carried a credential."""

    @property
    def total_requests(self) -> int:
        """API and file requests received."""
        return sum(self.requests.values())

    def __repr__(self) -> str:
        return (
            f"OpenAICounters(requests={dict(self.requests)}, responses={dict(self.responses)}, "
            f"images_generated={self.images_generated}, disconnects={self.disconnects}, "
            f"generating={self.generating})"
        )


@dataclass
class EmulatorState:
    """Everything the handlers share."""

    api_key: str
    latency: float
    request_limit: TokenBucket
    token_limit: TokenBucket
    deployments: dict[str, str]
    moderation_marker: str | None
    file_ttl: float
    rng: random.Random = field(default_factory=random.Random)
    """Ids and keys (not secrets: seeded so that a recording can be reproduced)."""
    clock: Clock = wall_clock
    """Where reported times are read (``created``, ``Date``, processing time)."""
    origin: str = ""
    faults: OpenAIFaultPlan = field(default_factory=OpenAIFaultPlan)
    counters: OpenAICounters = field(default_factory=OpenAICounters)
    log: list[RecordedRequest] = field(default_factory=list)
    _files: dict[str, tuple[float, bytes]] = field(default_factory=dict)

    def request_id(self) -> str:
        """A fresh ``x-request-id``."""
        return f"req_{self.rng.getrandbits(128):032x}"

    def throttle(self) -> None:
        """Charge one request; raise the 429 OpenAI sends when a limit is exhausted."""
        for limit, bucket in (("requests", self.request_limit), ("tokens", self.token_limit)):
            wait = bucket.take()
            if wait is not None:
                self.counters.throttled += 1
                raise ApiProblem(
                    429,
                    f"Rate limit reached for images in organization org-emulator on {limit} "
                    f"per min: Limit {_scale(limit) * bucket.per_minute}. "
                    f"Please try again in {format_duration(wait)}.",
                    error_type=limit,
                    code="rate_limit_exceeded",
                )

    def rate_headers(self) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers of a reply."""
        headers: dict[str, str] = {}
        for limit, bucket in (("requests", self.request_limit), ("tokens", self.token_limit)):
            scale = _scale(limit)
            headers[f"x-ratelimit-limit-{limit}"] = str(bucket.per_minute * scale)
            headers[f"x-ratelimit-remaining-{limit}"] = str(bucket.remaining * scale)
            headers[f"x-ratelimit-reset-{limit}"] = format_duration(
                (bucket.per_minute - bucket.remaining) * 60 / bucket.per_minute
            )
        return headers

    def store_file(self, data: bytes) -> str:
        """Keep an output for its link; the key to serve it by."""
        key = f"{self.rng.getrandbits(96):024x}"
        self._files[key] = (time.monotonic() + self.file_ttl, data)
        return key

    def file(self, key: str) -> bytes | None:
        """A stored output, unless it expired (OpenAI's links last 60 minutes)."""
        entry = self._files.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]
