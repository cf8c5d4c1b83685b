"""What a backend hands back: images as they become ready, and warnings.

A :class:`GeneratedImage` is either encoded bytes or a URL the caller fetches;
it never holds decoded pixels, because decoding is the consumer's business (the
Pipecat layer decodes off the event loop) and many callers only store files.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote_to_bytes

from imagegen_core._inputs import ImageRole, InputImage
from imagegen_core._sizes import ImageSize

__all__ = ["GeneratedImage", "GenerationWarning", "WarningKind", "decode_data_url"]


class WarningKind(StrEnum):
    """Kinds of warning a generation can carry."""

    UNSUPPORTED_SETTING = "unsupported-setting"
    """The request asked for something the backend cannot honour; it was ignored."""
    OTHER = "other"
    """Anything else the caller should know, such as fewer images than asked."""


@dataclass(frozen=True, slots=True)
class GenerationWarning:
    """Something the caller asked for that did not happen exactly as asked.

    Args:
        message: What happened, for people.
        kind: Which kind of warning this is.
        setting: The request field concerned, for unsupported settings.
    """

    message: str
    kind: WarningKind = WarningKind.OTHER
    setting: str | None = None

    def __str__(self) -> str:
        where = f" ({self.setting})" if self.setting else ""
        return f"{self.kind.value}{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One finished image.

    Exactly one of ``data`` and ``url`` is set. ``metadata`` carries
    provider facts worth logging or billing on, e.g. ``prediction_id`` and
    ``predict_time`` for Replicate.

    Args:
        data: The encoded file (PNG, JPEG, WebP, ...), when the backend has it.
        url: Where to fetch the encoded file, when the backend only has a link.
        media_type: MIME type of the file, when known (``image/webp``).
        size: Pixel size, when the backend knows it without decoding.
        index: Position of this image in the request (0-based), not arrival order.
        metadata: Provider-specific facts about how the image was made.
    """

    data: bytes | None = None
    url: str | None = None
    media_type: str | None = None
    size: ImageSize | None = None
    index: int = 0
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError("a GeneratedImage holds exactly one of data or url")
        if self.url is not None and self.url[:5].lower() == "data:":
            raise ValueError("decode data: URLs with decode_data_url() and pass the bytes as data")
        if self.index < 0:
            raise ValueError("index must not be negative")
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def as_input(self, role: ImageRole = ImageRole.EDIT) -> InputImage:
        """This image as an input to a next request: "now make it night-time".

        Raises:
            pydantic.ValidationError: The image is not acceptable as an input
                (a format providers do not take, a non-http(s) URL, too large).
        """
        return InputImage(data=self.data, url=self.url, role=role)

    def __repr__(self) -> str:
        # Never dump image bytes into logs.
        body = f"data=<{len(self.data)} bytes>" if self.data is not None else f"url={self.url!r}"
        return (
            f"GeneratedImage({body}, media_type={self.media_type!r}, size={self.size!r}, "
            f"index={self.index}, metadata={dict(self.metadata)!r})"
        )


def decode_data_url(url: str) -> tuple[bytes, str | None]:
    """Decode an RFC 2397 ``data:`` URL into its bytes and media type.

    Replicate (and others) may return small outputs inline this way instead of
    as a link; backends turn them into ``GeneratedImage(data=...)``.

    Raises:
        ValueError: ``url`` is not a well-formed ``data:`` URL.
    """
    if url[:5].lower() != "data:":
        raise ValueError("not a data: URL")
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise ValueError("data: URL has no ',' separating header and payload")
    params = header.split(";")
    media_type = params[0].strip().lower() or None
    if "base64" in (p.strip().lower() for p in params[1:]):
        try:
            return base64.b64decode(payload, validate=True), media_type
        except binascii.Error as exc:
            raise ValueError(f"data: URL payload is not valid base64: {exc}") from None
    return unquote_to_bytes(payload), media_type
