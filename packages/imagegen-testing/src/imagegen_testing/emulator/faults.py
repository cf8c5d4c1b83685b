"""Routes, latency and scripted faults: how a test makes the emulator misbehave.

A client is only as good as its handling of the bad days: throttling, proxies
answering with HTML, connections dropped mid-reply, censored or failed
predictions, downloads that stall or break. Each of those is a :class:`Fault`
value; a test queues them per request (:meth:`FaultPlan.script`) or lets them
happen at a rate (:meth:`FaultPlan.add_rate`) drawn from a seeded RNG, so a
flaky-network test is still reproducible.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus

__all__ = [
    "CREATE_ROUTES",
    "FILES_ROUTES",
    "SCHEMA_ROUTES",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Latency",
    "Route",
    "throttle_detail",
]


def throttle_detail(seconds: int) -> str:
    """The ``detail`` of Replicate's 429, as its rate-limit documentation shows it."""
    unit = "second" if seconds == 1 else "seconds"
    return f"Request was throttled. Expected available in {seconds} {unit}."


class Route(StrEnum):
    """The emulator's routes, named after Replicate's OpenAPI operation ids."""

    MODELS_PREDICTIONS_CREATE = "models.predictions.create"
    PREDICTIONS_CREATE = "predictions.create"
    DEPLOYMENTS_PREDICTIONS_CREATE = "deployments.predictions.create"
    PREDICTIONS_GET = "predictions.get"
    PREDICTIONS_CANCEL = "predictions.cancel"
    MODELS_GET = "models.get"
    MODELS_VERSIONS_GET = "models.versions.get"
    DEPLOYMENTS_GET = "deployments.get"
    FILES_CREATE = "files.create"
    FILES_GET = "files.get"
    FILES_LIST = "files.list"
    FILES_DELETE = "files.delete"
    DELIVERY_GET = "delivery.get"
    """Output files: the emulator's stand-in for ``replicate.delivery``."""


CREATE_ROUTES = frozenset(
    {
        Route.MODELS_PREDICTIONS_CREATE,
        Route.PREDICTIONS_CREATE,
        Route.DEPLOYMENTS_PREDICTIONS_CREATE,
    }
)
"""The three ways to create a prediction."""

_FILE_ROUTES = frozenset({Route.DELIVERY_GET})
_API_ROUTES = frozenset(Route) - _FILE_ROUTES

SCHEMA_ROUTES = frozenset({Route.MODELS_GET, Route.MODELS_VERSIONS_GET, Route.DEPLOYMENTS_GET})
"""The routes a client reads a model's schema through."""
FILES_ROUTES = frozenset(
    {Route.FILES_CREATE, Route.FILES_GET, Route.FILES_LIST, Route.FILES_DELETE}
)
"""The files API."""


@dataclass
class Latency:
    """How long each phase of a prediction, and each file download, takes (seconds)."""

    queue: float = 0.0
    """``starting`` until ``processing`` (waiting for a worker)."""
    predict: float = 0.0
    """``processing`` until the outputs exist."""
    upload: float = 0.0
    """Outputs visible, status still ``processing``, until ``succeeded``."""
    download: float = 0.0
    """Serving one output file, trickled over this long."""

    def __post_init__(self) -> None:
        for name in ("queue", "predict", "upload", "download"):
            if getattr(self, name) < 0:
                raise ValueError(f"latency {name} must not be negative")


class FaultKind(StrEnum):
    """What a :class:`Fault` does."""

    HTTP_ERROR = "http_error"
    CONNECTION_RESET = "connection_reset"
    FAILED_PREDICTION = "failed_prediction"
    NSFW = "nsfw"
    DATA_REMOVED = "data_removed"
    SLOW_PREDICTION = "slow_prediction"
    DATA_URLS = "data_urls"
    SLOW_DOWNLOAD = "slow_download"
    SLOW_CANCEL = "slow_cancel"
    TRUNCATED_DOWNLOAD = "truncated_download"
    CORRUPT_IMAGE = "corrupt_image"
    MALFORMED_REPLY = "malformed_reply"

    @property
    def replaces_response(self) -> bool:
        """Whether the fault answers the request itself (so only one may apply)."""
        return self in {
            FaultKind.HTTP_ERROR,
            FaultKind.CONNECTION_RESET,
            FaultKind.MALFORMED_REPLY,
        }


RouteSelector = Route | Iterable[Route]

_HTML_ERROR = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>edge-proxy</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _routes(
    selector: RouteSelector, allowed: frozenset[Route], kind: FaultKind
) -> frozenset[Route]:
    routes = frozenset({selector}) if isinstance(selector, Route) else frozenset(selector)
    if not routes:
        raise ValueError(f"{kind.value} fault needs at least one route")
    if not routes <= allowed:
        bad = ", ".join(sorted(r.value for r in routes - allowed))
        raise ValueError(f"{kind.value} fault cannot apply to: {bad}")
    return routes


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour. Build it with the class-method constructors.

    Fields a kind does not use stay at their defaults.
    """

    kind: FaultKind
    routes: frozenset[Route]
    status: int = 0
    retry_after: float | None = None
    html: bool = False
    detail: str | None = None
    after_processing: bool = False
    error: str = ""
    dropped: int = 0
    after: float = 0.0
    queue: float | None = None
    predict: float | None = None
    upload: float | None = None
    seconds: float = 0.0
    fraction: float = 0.5
    body: str = ""

    @classmethod
    def http_error(
        cls,
        status: int,
        *,
        retry_after: float | None = None,
        html: bool = False,
        detail: str | None = None,
        route: RouteSelector = CREATE_ROUTES,
    ) -> Fault:
        """Answer with ``status``: a problem+json body, or a proxy's HTML page if ``html``.

        ``retry_after`` adds a ``Retry-After`` header; fractional seconds are
        written as given, which real servers do not do but keeps tests fast.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"http_error status must be 4xx or 5xx, got {status}")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        return cls(
            FaultKind.HTTP_ERROR,
            _routes(route, frozenset(Route), FaultKind.HTTP_ERROR),
            status=status,
            retry_after=retry_after,
            html=html,
            detail=detail,
        )

    @classmethod
    def rate_limited(
        cls, *, retry_after: float | None = 1.0, route: RouteSelector = CREATE_ROUTES
    ) -> Fault:
        """A ``429`` as Replicate's throttling sends it; ``retry_after=None`` omits the header."""
        seconds = 1 if retry_after is None else max(1, math.ceil(retry_after))
        return cls.http_error(
            429, retry_after=retry_after, detail=throttle_detail(seconds), route=route
        )

    @classmethod
    def connection_reset(
        cls, *, after_processing: bool = False, route: RouteSelector = CREATE_ROUTES
    ) -> Fault:
        """Reset the TCP connection instead of replying.

        With ``after_processing`` the request takes effect first: a create
        really creates (and runs) the prediction whose id the client never sees.
        """
        return cls(
            FaultKind.CONNECTION_RESET,
            _routes(route, frozenset(Route), FaultKind.CONNECTION_RESET),
            after_processing=after_processing,
        )

    @classmethod
    def malformed_reply(
        cls,
        body: str = '{"unexpected": true}',
        *,
        after_processing: bool = False,
        route: RouteSelector = _API_ROUTES,
    ) -> Fault:
        """Answer with the route's success status but ``body`` (JSON content type) instead.

        With ``after_processing`` the request takes effect first: an upload
        really creates the file, a create really starts the prediction, and
        the client gets a reply it cannot read.
        """
        return cls(
            FaultKind.MALFORMED_REPLY,
            _routes(route, _API_ROUTES, FaultKind.MALFORMED_REPLY),
            after_processing=after_processing,
            body=body,
        )

    @classmethod
    def failed_prediction(
        cls, error: str = "Scripted failure from the Replicate emulator"
    ) -> Fault:
        """The prediction ends ``failed`` with ``error``."""
        return cls(FaultKind.FAILED_PREDICTION, CREATE_ROUTES, error=error)

    @classmethod
    def nsfw(cls, dropped: int = 1) -> Fault:
        """The safety checker withholds the last ``dropped`` images (all of them: ``failed``)."""
        if dropped < 1:
            raise ValueError("nsfw fault must drop at least one image")
        return cls(FaultKind.NSFW, CREATE_ROUTES, dropped=dropped)

    @classmethod
    def data_removed(cls, *, after: float = 0.0) -> Fault:
        """Remove the prediction's data ``after`` seconds past completion.

        Replicate does this an hour after completion; the fault brings it forward.
        """
        if after < 0:
            raise ValueError("after must not be negative")
        return cls(FaultKind.DATA_REMOVED, CREATE_ROUTES, after=after)

    @classmethod
    def slow_prediction(
        cls,
        *,
        queue: float | None = None,
        predict: float | None = None,
        upload: float | None = None,
    ) -> Fault:
        """Override the emulator's :class:`Latency` for one prediction."""
        for value in (queue, predict, upload):
            if value is not None and value < 0:
                raise ValueError("latencies must not be negative")
        return cls(
            FaultKind.SLOW_PREDICTION, CREATE_ROUTES, queue=queue, predict=predict, upload=upload
        )

    @classmethod
    def data_urls(cls) -> Fault:
        """This create's sync reply carries ``data:`` URLs instead of file URLs."""
        return cls(FaultKind.DATA_URLS, CREATE_ROUTES)

    @classmethod
    def slow_download(cls, seconds: float) -> Fault:
        """The next file takes ``seconds`` to arrive."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return cls(FaultKind.SLOW_DOWNLOAD, _FILE_ROUTES, seconds=seconds)

    @classmethod
    def slow_cancel(cls, seconds: float) -> Fault:
        """The next cancel request takes ``seconds`` before Replicate acts on it.

        A client that gives up on the request sooner (its session closed at
        shutdown, say) never gets it applied: the prediction runs on, as it
        does when a real cancel is aborted before it reaches the API.
        """
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return cls(FaultKind.SLOW_CANCEL, frozenset({Route.PREDICTIONS_CANCEL}), seconds=seconds)

    @classmethod
    def truncated_download(cls, fraction: float = 0.5) -> Fault:
        """Announce the full length, send ``fraction`` of the body, then drop the connection."""
        if not 0 <= fraction < 1:
            raise ValueError("fraction must be in [0, 1)")
        return cls(FaultKind.TRUNCATED_DOWNLOAD, _FILE_ROUTES, fraction=fraction)

    @classmethod
    def corrupt_image(cls) -> Fault:
        """Serve bytes of the right length and magic number that no decoder accepts."""
        return cls(FaultKind.CORRUPT_IMAGE, _FILE_ROUTES)

    def html_body(self) -> str:
        """The HTML page a proxy would send for this status."""
        return _HTML_ERROR.format(status=self.status, reason=HTTPStatus(self.status).phrase)


@dataclass
class _Step:
    faults: tuple[Fault, ...]
    routes: frozenset[Route]
    remaining: int


@dataclass
class _Rate:
    fault: Fault
    rate: float


@dataclass
class FaultPlan:
    """The faults still to come: a FIFO of scripted steps, and rates.

    A request takes the first scripted step whose routes include its route and
    applies all the step's faults. Only when none matches do rates get a
    chance, in the order they were added; the first that fires applies.
    """

    rng: random.Random = field(default_factory=random.Random)
    _steps: deque[_Step] = field(default_factory=deque)
    _rates: list[_Rate] = field(default_factory=list)

    def script(self, *faults: Fault, times: int = 1) -> None:
        """Apply ``faults`` together to the next ``times`` matching requests.

        Raises:
            ValueError: No faults, ``times`` below 1, two faults that each
                answer the request, or faults with no route in common.
        """
        if not faults:
            raise ValueError("script() needs at least one fault")
        if times < 1:
            raise ValueError("times must be at least 1")
        if sum(f.kind.replaces_response for f in faults) > 1:
            raise ValueError("a step may hold only one http_error or connection_reset")
        routes = frozenset.intersection(*(f.routes for f in faults))
        if not routes:
            raise ValueError("the faults of one step share no route")
        self._steps.append(_Step(tuple(faults), routes, times))

    def add_rate(self, fault: Fault, *, rate: float) -> None:
        """Apply ``fault`` to each matching request with probability ``rate``."""
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        self._rates.append(_Rate(fault, rate))

    def clear(self) -> None:
        """Forget every scripted step and rate."""
        self._steps.clear()
        self._rates.clear()

    @property
    def pending(self) -> int:
        """Scripted requests still to be answered with faults (steps times repeats)."""
        return sum(step.remaining for step in self._steps)

    def take(self, route: Route) -> tuple[Fault, ...]:
        """The faults for one request on ``route`` (consuming a scripted step)."""
        for step in self._steps:
            if route in step.routes:
                step.remaining -= 1
                if step.remaining == 0:
                    self._steps.remove(step)
                return step.faults
        for entry in self._rates:
            if route in entry.fault.routes and self.rng.random() < entry.rate:
                return (entry.fault,)
        return ()
