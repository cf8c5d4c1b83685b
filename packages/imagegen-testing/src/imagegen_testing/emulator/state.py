"""What the emulator remembers: predictions and the counters tests assert on.

The prediction record is the single source of truth for a prediction's
state; the HTTP layer only renders it (:meth:`PredictionRecord.to_json`) and
the lifecycle only moves it forward. Counters stand in for Replicate's
dashboard: a test proves a cancel really reached the server, or that no
request was sent at all, by reading them.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from imagegen_core import ImageSize
from imagegen_testing.clock import Clock, wall_clock
from imagegen_testing.emulator.faults import FaultKind, FaultPlan, Latency, Route
from imagegen_testing.emulator.files import FileStore
from imagegen_testing.emulator.images import data_url
from imagegen_testing.emulator.models import EmulatedModel
from imagegen_testing.emulator.ratelimit import TokenBucket
from imagegen_testing.emulator.schema import ModelInput

__all__ = [
    "Counters",
    "EmulatorState",
    "PredictionPlan",
    "PredictionRecord",
    "PredictionStore",
    "Status",
]


class Status(StrEnum):
    """Replicate's prediction statuses."""

    STARTING = "starting"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        """Whether the prediction will never change again (apart from data removal)."""
        return self not in {Status.STARTING, Status.PROCESSING}


def _seconds(duration: timedelta) -> float:
    return round(duration.total_seconds(), 6)


def _timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class PredictionPlan:
    """How one prediction will go, fixed at creation from latency and faults."""

    queue: float = 0.0
    predict: float = 0.0
    upload: float = 0.0
    error: str | None = None
    nsfw_dropped: int = 0
    data_removed_after: float | None = None
    data_urls: bool = False


@dataclass(eq=False)
class PredictionRecord:
    """One prediction, as the emulator holds it."""

    id: str
    route: Route
    model: str
    version: str
    """What the ``version`` field shows: a 64-hex id, or ``"hidden"`` for official-model creates."""
    input: dict[str, Any]
    options: ModelInput
    spec: EmulatedModel
    """The model that runs it: schema, output shape, logging."""
    seed: int
    plan: PredictionPlan
    origin: str
    file_key: str
    deployment: str | None = None
    prefer_wait: int | None = None
    cancel_after: float | None = None
    status: Status = Status.STARTING
    logs: list[str] = field(default_factory=list)
    error: str | None = None
    files: list[bytes] = field(default_factory=list)
    received: dict[str, list[bytes]] = field(default_factory=dict)
    """The image inputs as the model read them, by input name (data URLs decoded,
    file and delivery URLs fetched), for tests to compare with what was sent."""
    size: ImageSize | None = None
    """The size of every output, once the model knows it."""
    data_removed: bool = False
    clock: Clock = wall_clock
    """Where the times this prediction reports are read (see :mod:`imagegen_testing.clock`)."""
    created_at: datetime = field(init=False)
    started_at: datetime | None = None
    outputs_at: datetime | None = None
    completed_at: datetime | None = None
    canceled_by: str | None = None
    """Who ended it early: ``"user"`` (cancel route), ``"deadline"`` or ``"shutdown"``."""
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    """What a held sync reply waits for: set when the prediction is terminal, or shows its
    outputs during an upload phase that takes time.

    Set only after every change of that moment is made, never before the state it
    announces: from Python 3.12 ``asyncio.wait_for`` runs the waiter without a
    wrapping task, so the reply is rendered at the very next turn of the loop.
    """
    task: asyncio.Task[None] | None = None
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.created_at = self.clock()

    @property
    def deadline(self) -> datetime | None:
        """When ``Cancel-After`` ends the prediction, if it was sent."""
        if self.cancel_after is None:
            return None
        return self.created_at + timedelta(seconds=self.cancel_after)

    @property
    def media_type(self) -> str:
        """MIME type of the output files."""
        return self.spec.image_format(self.options).media_type

    @property
    def output_format(self) -> str:
        """Replicate's spelling of the output files' format (their file extension)."""
        return self.spec.output_format(self.options)

    @property
    def output_ready(self) -> bool:
        """Whether the output files exist (they may still be "uploading")."""
        return bool(self.files) and not self.data_removed

    def file_url(self, index: int) -> str:
        """The delivery URL of output ``index``."""
        return f"{self.origin}/delivery/{self.file_key}/out-{index}.{self.output_format}"

    def output(self, *, as_data_urls: bool = False) -> list[str] | str | None:
        """The ``output`` field: file or ``data:`` URLs; ``None`` before outputs, after removal.

        A list for models whose schema says ``array`` (iterator models' list
        grows while they run), one URL string for models that return one file.
        """
        if not self.output_ready:
            return None
        if as_data_urls:
            urls = [data_url(data, self.media_type) for data in self.files]
        else:
            urls = [self.file_url(index) for index in range(len(self.files))]
        return urls[0] if self.spec.output_shape == "single" else urls

    def add_preview(self, data: bytes) -> None:
        """An iterator model yielded an intermediate output (a sync reply does not return yet)."""
        self.files = [*self.files, data]

    def mark_processing(self) -> None:
        """A worker picked the prediction up."""
        self.status = Status.PROCESSING
        self.started_at = self.clock()

    def mark_outputs(self, files: list[bytes], *, uploading: bool) -> None:
        """The model produced ``files``.

        ``uploading``: an upload phase follows, so a held sync reply may return
        the outputs now, still ``processing``. Without one, success comes in the
        same step and :meth:`finish` announces both at once.
        """
        self.files = files
        self.outputs_at = self.clock()
        if uploading:
            self.settled.set()

    def finish(
        self, status: Status, *, error: str | None = None, remove_data: bool = False
    ) -> None:
        """Move to a terminal ``status`` (only the first call counts).

        ``remove_data``: the data is gone at completion (as if an hour passed), part
        of the same change, so no reply ever shows the data of such a prediction.
        """
        if self.status.terminal:
            return
        self.status = status
        self.error = error
        self.completed_at = self.clock()
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        if remove_data:
            self.remove_data()
        self.settled.set()

    def remove_data(self) -> None:
        """Drop input, output and logs, as Replicate does an hour after completion."""
        self.data_removed = True
        self.input = {}
        self.files = []
        self.logs = []

    def metrics(self) -> dict[str, float | int]:
        """``metrics`` for a terminal prediction: predict and total time, image count on success."""
        if not self.status.terminal:
            return {}
        completed = self.completed_at or self.created_at
        metrics: dict[str, float | int] = {"total_time": _seconds(completed - self.created_at)}
        if self.started_at is not None:
            end = self.outputs_at if self.outputs_at is not None else completed
            metrics["predict_time"] = _seconds(end - self.started_at)
        if self.status is Status.SUCCEEDED and not self.data_removed:
            metrics["image_count"] = len(self.files)
        return metrics

    def to_json(self, *, as_data_urls: bool = False) -> dict[str, Any]:
        """The prediction object as Replicate's API returns it."""
        get_url = f"{self.origin}/v1/predictions/{self.id}"
        body: dict[str, Any] = {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "input": self.input,
            "logs": "".join(f"{line}\n" for line in self.logs),
            "output": self.output(as_data_urls=as_data_urls),
            "data_removed": self.data_removed,
            "error": self.error,
            "status": self.status.value,
            "source": "api",
            "created_at": _timestamp(self.created_at),
            "started_at": _timestamp(self.started_at),
            "completed_at": _timestamp(self.completed_at),
            "urls": {
                "get": get_url,
                "cancel": f"{get_url}/cancel",
                "web": f"{self.origin}/p/{self.id}",
            },
            "metrics": self.metrics(),
        }
        if self.deployment is not None:
            body["deployment"] = self.deployment
        if self.deadline is not None:
            body["deadline"] = _timestamp(self.deadline)
        return body


class Counters:
    """What happened, for tests to assert on. ``predictions_running`` is live."""

    def __init__(self, store: PredictionStore, files: FileStore) -> None:
        self._store = store
        self._files = files
        self.clear()

    def clear(self) -> None:
        """Start counting from zero (``predictions_running`` follows the store)."""
        self.requests: Counter[Route] = Counter()
        """Requests received, by route (including rejected and faulted ones)."""
        self.responses: Counter[int] = Counter()
        """Replies sent, by HTTP status (connection resets are not replies)."""
        self.faults_injected: Counter[FaultKind] = Counter()
        """Faults applied, by kind."""
        self.predictions_created = 0
        self.cancels_received = 0
        """Cancel requests that arrived (applied or not)."""
        self.cancels_abandoned = 0
        """Slow cancels (``Fault.slow_cancel``) whose client hung up before they took effect."""
        self.throttled = 0
        """Replies refused by the emulator's own rate limiter (not scripted 429s)."""
        self.downloads_abandoned = 0
        """Output files whose client hung up before the whole file was sent."""
        self.files_with_authorization = 0
        """File downloads that carried an ``Authorization`` header (a token leak to the CDN)."""
        self.files_created = 0
        """Uploads accepted by ``POST /v1/files``."""
        self.files_deleted = 0
        """Files removed by ``DELETE /v1/files/{id}``."""

    @property
    def predictions_running(self) -> int:
        """Predictions not yet terminal."""
        return self._store.running

    @property
    def files_live(self) -> int:
        """Uploaded files neither deleted nor expired (what a client left behind). Live."""
        return self._files.live

    @property
    def total_requests(self) -> int:
        """Requests received on every route."""
        return sum(self.requests.values())

    def __repr__(self) -> str:
        fields = {
            "requests": {route.value: n for route, n in self.requests.items()},
            "predictions_created": self.predictions_created,
            "cancels_received": self.cancels_received,
            "predictions_running": self.predictions_running,
            "files_created": self.files_created,
            "files_deleted": self.files_deleted,
            "responses": dict(self.responses),
            "faults_injected": {kind.value: n for kind, n in self.faults_injected.items()},
        }
        return "Counters(" + ", ".join(f"{name}={value}" for name, value in fields.items()) + ")"


_ID_ALPHABET = string.ascii_lowercase + string.digits


class PredictionStore(Mapping[str, PredictionRecord]):
    """Every prediction by id, plus the lookup of output files by delivery key."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._by_id: dict[str, PredictionRecord] = {}
        self._by_file_key: dict[str, PredictionRecord] = {}

    def __getitem__(self, prediction_id: str) -> PredictionRecord:
        return self._by_id[prediction_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def new_id(self, length: int = 26) -> str:
        """A fresh identifier shaped like Replicate's (lower-case letters and digits)."""
        while True:
            candidate = "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))
            if candidate not in self._by_id and candidate not in self._by_file_key:
                return candidate

    def add(self, record: PredictionRecord) -> None:
        """Remember ``record``."""
        self._by_id[record.id] = record
        self._by_file_key[record.file_key] = record

    def by_file_key(self, key: str) -> PredictionRecord | None:
        """The prediction whose delivery URLs use ``key``."""
        return self._by_file_key.get(key)

    @property
    def running(self) -> int:
        """Predictions not yet terminal."""
        return sum(not record.status.terminal for record in self._by_id.values())

    def clear(self) -> None:
        """Forget everything (tasks must already be finished)."""
        self._by_id.clear()
        self._by_file_key.clear()


@dataclass
class EmulatorState:
    """Everything the routes read and change: configuration, predictions, counters, faults."""

    api_token: str
    latency: Latency
    catalog: dict[str, EmulatedModel]
    """``owner/name`` to the model."""
    deployments: dict[str, str]
    """``owner/name`` of a deployment to the model it runs."""
    data_urls: bool
    max_sync_wait: float | None
    min_cancel_after: float
    create_limit: TokenBucket
    other_limit: TokenBucket
    rng: random.Random
    faults: FaultPlan
    file_ttl: float
    max_upload_bytes: int
    clock: Clock = wall_clock
    """Where reported times are read: the wall clock, or a ``SteppingClock``."""
    sync_waits_by_plan: bool = False
    """Whether a sync reply waits for a prediction planned to end within the wait (see server)."""
    store: PredictionStore = field(init=False)
    files: FileStore = field(init=False)
    counters: Counters = field(init=False)
    origin: str = ""
    """``http://host:port`` once the server listens."""

    def __post_init__(self) -> None:
        self.store = PredictionStore(self.rng)
        self.files = FileStore()
        self.counters = Counters(self.store, self.files)

    @property
    def models(self) -> dict[str, str]:
        """``owner/name`` to 64-hex version id."""
        return {name: model.version for name, model in self.catalog.items()}

    def model_for_version(self, version_id: str) -> str | None:
        """The model a version id belongs to."""
        return next(
            (name for name, model in self.catalog.items() if model.version == version_id), None
        )
