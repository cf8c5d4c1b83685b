"""Output files: rendering (cached), data URLs, and deliberately broken bytes.

Pictures come from the fake backend's renderer so there is one definition of
"a deterministic test image" in the project. Encoding a one-megapixel WebP
costs about a third of a second of CPU, so renders are cached by everything
that determines their bytes and run off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import functools

from imagegen_core import ImageSize, OutputFormat
from imagegen_testing.emulator.schema import FluxSchnellInput
from imagegen_testing.fake.images import render_test_image

__all__ = ["corrupt", "data_url", "render_outputs"]

_MAGIC_BYTES = 16
"""Bytes kept by :func:`corrupt`: enough for any sniffer to recognise the format."""


@functools.lru_cache(maxsize=128)
def _render(
    prompt: str, seed: int, index: int, size: ImageSize, image_format: OutputFormat, quality: int
) -> bytes:
    return render_test_image(
        seed_text=f"{prompt}\x00{seed}\x00{index}",
        size=size,
        output_format=image_format,
        quality=quality,
    )


def _render_all(options: FluxSchnellInput, seed: int) -> list[bytes]:
    return [
        _render(
            options.prompt, seed, index, options.size, options.image_format, options.output_quality
        )
        for index in range(options.num_outputs)
    ]


async def render_outputs(options: FluxSchnellInput, seed: int) -> list[bytes]:
    """Encode every output the input asks for, in a worker thread."""
    return await asyncio.to_thread(_render_all, options, seed)


def data_url(data: bytes, media_type: str) -> str:
    """``data:<type>;base64,...`` for ``data``, as Replicate's sync replies carried them."""
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def corrupt(data: bytes) -> bytes:
    """Same length and magic number as ``data``, but nothing a decoder accepts."""
    junk = bytes((index * 131 + 7) % 256 for index in range(max(0, len(data) - _MAGIC_BYTES)))
    return data[:_MAGIC_BYTES] + junk
