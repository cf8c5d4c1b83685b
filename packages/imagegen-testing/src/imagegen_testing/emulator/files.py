"""Replicate's files API: uploads that predictions take as inputs, then expire.

Documented (Replicate's HTTP API reference and its client libraries' docs):
``POST /v1/files`` takes ``multipart/form-data`` with a ``content`` part (the
bytes; its own ``Content-Type`` and filename), optional ``type`` and
``filename`` parts, and a ``metadata`` part holding JSON; the filename is at
most 255 bytes of UTF-8; an upload is at most 100 MiB; a file expires 24 hours
after it was created; ``urls.get`` is the value to pass as a prediction input,
and it is opaque; ``DELETE /v1/files/{id}`` answers ``204`` and the file is
``404`` from then on. The file object carries ``id``, ``name``,
``content_type``, ``size``, ``etag``, ``checksums`` (``sha256``, ``md5``),
``metadata``, ``created_at``, ``expires_at`` and ``urls.get``.

Guessed (the docs are silent): an upload over the limit is ``413`` and a
missing ``content`` part or bad ``metadata`` a ``400`` problem; an expired file
answers ``404`` like a deleted one; ``etag`` is the MD5 of the content; ids are
26 lower-case characters like prediction ids; a prediction whose input names
a file that is gone fails (Replicate fetches inputs when the model starts).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from imagegen_testing.clock import wall_clock

__all__ = [
    "DEFAULT_FILE_TTL",
    "MAX_FILENAME_BYTES",
    "MAX_UPLOAD_BYTES",
    "FileStore",
    "UploadedFile",
]

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""Largest upload Replicate accepts (100 MiB)."""
MAX_FILENAME_BYTES = 255
"""Longest filename, in bytes of UTF-8."""
DEFAULT_FILE_TTL = 24 * 60 * 60.0
"""Seconds until an uploaded file expires."""


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(eq=False)
class UploadedFile:
    """One file of the files API, as the emulator holds it."""

    id: str
    name: str
    content_type: str
    data: bytes
    metadata: Any
    ttl: float
    origin: str
    created_at: datetime = field(default_factory=wall_clock)
    """When it was uploaded, as reported (the emulator passes its own clock's reading)."""
    deleted: bool = False
    _created_clock: float = field(default_factory=time.monotonic)

    @property
    def expired(self) -> bool:
        """Whether its 24 hours (or the emulator's ``file_ttl``) have passed."""
        return time.monotonic() - self._created_clock >= self.ttl

    @property
    def available(self) -> bool:
        """Neither deleted nor expired: it can be read and used as an input."""
        return not self.deleted and not self.expired

    @property
    def url(self) -> str:
        """``urls.get``: what a prediction input names the file by."""
        return f"{self.origin}/v1/files/{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The file object as the API returns it."""
        md5 = hashlib.md5(self.data, usedforsecurity=False).hexdigest()
        return {
            "id": self.id,
            "name": self.name,
            "content_type": self.content_type,
            "size": len(self.data),
            "etag": md5,
            "checksums": {"sha256": hashlib.sha256(self.data).hexdigest(), "md5": md5},
            "metadata": self.metadata,
            "created_at": _timestamp(self.created_at),
            "expires_at": _timestamp(self.created_at + timedelta(seconds=self.ttl)),
            "urls": {"get": self.url},
        }


class FileStore(Mapping[str, UploadedFile]):
    """Every file ever uploaded, by id (deleted and expired ones included, for tests)."""

    def __init__(self) -> None:
        self._by_id: dict[str, UploadedFile] = {}

    def __getitem__(self, file_id: str) -> UploadedFile:
        return self._by_id[file_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, file: UploadedFile) -> None:
        """Remember ``file``."""
        self._by_id[file.id] = file

    def available(self, file_id: str) -> UploadedFile | None:
        """The file, if it exists and is neither deleted nor expired."""
        file = self._by_id.get(file_id)
        return file if file is not None and file.available else None

    def by_url(self, url: str) -> UploadedFile | None:
        """The available file whose ``urls.get`` is ``url``."""
        return next(
            (file for file in self._by_id.values() if file.url == url and file.available), None
        )

    @property
    def live(self) -> int:
        """Files neither deleted nor expired (what a client left behind)."""
        return sum(file.available for file in self._by_id.values())

    def clear(self) -> None:
        """Forget every file."""
        self._by_id.clear()
