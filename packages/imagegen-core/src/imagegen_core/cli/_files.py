"""Writing generated images to disk for the ``imagegen generate`` command.

File names come from the prompt so a folder of results stays readable, and
every writer numbers them the same way: ``<stem>-1.png``, ``<stem>-2.png``,
... in the order they are written, a later run continuing after the highest
number already in the folder (whatever its extension). A file is never
overwritten: each is created exclusively, and a name taken meanwhile moves on
to the next number. The extension is read from the bytes themselves first,
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
_MAX_ATTEMPTS = 10_000


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
    """Write ``data`` to ``folder`` as ``<stem>-<n><extension>``; return its path.

    ``n`` is one more than the highest number any ``<stem>-<n>.*`` file in the
    folder already has, so the images of one run (and of later runs) number
    1, 2, 3, ... in the order they were written.

    Raises:
        OSError: The folder is not writable, or no free name was found.
    """
    extension = extension_for(data, media_type)
    start = _highest_number(folder, stem) + 1
    for number in range(start, start + _MAX_ATTEMPTS):
        path = folder / f"{stem}-{number}{extension}"
        try:
            with path.open("xb") as file:
                file.write(data)
        except FileExistsError:
            continue  # another writer took it between the scan and now
        return path
    raise FileExistsError(f"no free name for {stem}-N{extension} in {folder}")


def _highest_number(folder: Path, stem: str) -> int:
    pattern = re.compile(rf"{re.escape(stem)}-(\d+)(?:\.[^.]*)?")
    numbers = [
        int(match[1]) for match in map(pattern.fullmatch, _names(folder)) if match is not None
    ]
    return max(numbers, default=0)


def _names(folder: Path) -> list[str]:
    try:
        return [entry.name for entry in folder.iterdir()]
    except FileNotFoundError:
        return []
