"""Writing generated images to disk for the ``imagegen generate`` command.

File names come from the prompt so a folder of results stays readable, and a
file is never overwritten: each is created exclusively, and a taken name gets
a numeric suffix. The extension is read from the bytes themselves first,
because a provider's declared media type is sometimes generic
(``application/octet-stream``) or missing.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["extension_for", "prompt_stem", "write_image"]

_MAX_STEM = 48
_MEDIA_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}
_MAX_SUFFIX = 10_000


def prompt_stem(prompt: str) -> str:
    """A short, file-system-safe name made from the prompt's words."""
    words = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")
    stem = words[:_MAX_STEM].rstrip("-")
    return stem or "image"


def extension_for(data: bytes, media_type: str | None) -> str:
    """The file extension for an encoded image: sniffed, else from the media type, else ``.bin``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if media_type is not None:
        bare = media_type.split(";", 1)[0].strip().lower()
        if bare in _MEDIA_EXTENSIONS:
            return _MEDIA_EXTENSIONS[bare]
    return ".bin"


def write_image(folder: Path, stem: str, data: bytes, media_type: str | None) -> Path:
    """Write ``data`` to a new file in ``folder`` named after ``stem``; return its path.

    Raises:
        OSError: The folder is not writable, or every candidate name is taken.
    """
    extension = extension_for(data, media_type)
    for attempt in range(1, _MAX_SUFFIX + 1):
        name = f"{stem}{extension}" if attempt == 1 else f"{stem}-{attempt}{extension}"
        path = folder / name
        try:
            with path.open("xb") as file:
                file.write(data)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"every name for {stem}{extension} in {folder} is taken")
