"""Reading a prediction's ``output`` field into images.

Replicate's ``output`` is whatever the model returns, serialized: flux-schnell
returns a list of file URLs, other image models a single URL string, some an
object with a ``url``; and a sync-mode reply may inline files as ``data:``
URLs instead of links. Positions matter: a partially filled list while the
prediction is still ``processing`` must not make the backend yield the same
image twice, so files are reported with their index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from imagegen_core import GeneratedImage, decode_data_url

__all__ = ["OutputFile", "UnexpectedOutput", "output_files", "to_generated_image"]

_FORMAT_MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}


class UnexpectedOutput(ValueError):
    """The output field has a shape this backend cannot read as images."""


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file in a prediction's output.

    Args:
        index: Its position in the output (0 for a single-file output).
        location: An ``http(s)://`` link or a ``data:`` URL.
    """

    index: int
    location: str

    @property
    def inline(self) -> bool:
        """Whether the file's bytes are in the reply itself (a ``data:`` URL)."""
        return self.location.startswith("data:")


def output_files(output: Any) -> list[OutputFile]:
    """The files in an ``output`` value, with their positions.

    ``None`` (no output yet) and empty lists give no files; ``None`` entries in
    a list are skipped but keep their position.

    Raises:
        UnexpectedOutput: The value holds something other than file links.
    """
    if output is None:
        return []
    if isinstance(output, list):
        files = []
        for index, item in enumerate(output):
            location = _location(item)
            if location is not None:
                files.append(OutputFile(index, location))
        return files
    location = _location(output)
    return [] if location is None else [OutputFile(0, location)]


def to_generated_image(
    file: OutputFile, *, output_format: str | None, metadata: Mapping[str, Any]
) -> GeneratedImage:
    """The :class:`GeneratedImage` for one output file.

    ``data:`` URLs are decoded here, so callers never see them; links are
    passed on for the consumer to fetch (the Pipecat service does, with its
    own session and size caps).

    Args:
        file: The output file.
        output_format: The ``output_format`` input sent, to name the media type
            when the link does not.
        metadata: Provider facts to attach (prediction id, model, ...).

    Raises:
        UnexpectedOutput: A ``data:`` URL that does not decode.
    """
    if file.inline:
        try:
            data, media_type = decode_data_url(file.location)
        except ValueError as exc:
            raise UnexpectedOutput(
                f"output {file.index} is a malformed data: URL ({exc})"
            ) from None
        return GeneratedImage(
            data=data,
            media_type=media_type or _format_media_type(output_format),
            index=file.index,
            metadata=metadata,
        )
    return GeneratedImage(
        url=file.location,
        media_type=_guess_media_type(file.location) or _format_media_type(output_format),
        index=file.index,
        metadata=metadata,
    )


def _location(item: Any) -> str | None:
    if item is None:
        return None
    if isinstance(item, Mapping):
        if "url" not in item or item["url"] is None:
            keys = sorted(map(str, item))
            shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
            raise UnexpectedOutput(f"an output object has no 'url' (keys: {shown})")
        item = item["url"]
    if not isinstance(item, str):
        raise UnexpectedOutput(f"an output is a {type(item).__name__}, not a file URL")
    text = item.strip()
    if text.startswith("data:"):
        return text
    scheme = urlsplit(text).scheme.lower()
    if scheme not in ("http", "https"):
        # Only the scheme is named: the rest of an untrusted value could be anything.
        named = f" (its scheme is {scheme!r})" if scheme and len(scheme) <= 16 else ""
        raise UnexpectedOutput(f"an output is not an http(s) or data: URL{named}")
    return text


def _guess_media_type(url: str) -> str | None:
    # Our own table rather than `mimetypes`: its answer for .webp depends on
    # the Python version and the host's mime.types file.
    path = urlsplit(url).path
    extension = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    return _FORMAT_MEDIA_TYPES.get(extension.lower())


def _format_media_type(output_format: str | None) -> str | None:
    if output_format is None:
        return None
    return _FORMAT_MEDIA_TYPES.get(output_format.lower())
