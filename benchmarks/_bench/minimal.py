"""The baseline: a minimal aiohttp client doing only the work that cannot be skipped.

Create the prediction with ``Prefer: wait``, download each output (all at
once), decode each to RGB in a worker thread. No validation, no retries, no
caps: the floor any real client is measured against. The same module holds
the fixed 0.5 s poller the long-prediction figures compare against, since it
is the minimal client with polling added.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import aiohttp
from PIL import Image

__all__ = ["MODEL_PATH", "SYNC_HEADERS", "MinimalClient", "decode_rgb"]

MODEL_PATH = "/v1/models/black-forest-labs/flux-schnell/predictions"
SYNC_HEADERS = {"Authorization": "Bearer bench", "Prefer": "wait=60"}
"""A create that waits for its outputs (the fake answers well within the minute)."""


def decode_rgb(data: bytes) -> bytes:
    """Decode an image file to RGB pixel bytes."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


class MinimalClient:
    """Create, download, decode; nothing else.

    Args:
        session: The aiohttp session (the caller's).
        api: The fake API's profile root (``http://host:port/PROFILE``).
    """

    def __init__(self, session: aiohttp.ClientSession, api: str) -> None:
        self._session = session
        self._url = api + MODEL_PATH

    async def generate(self, outputs: int = 1) -> int:
        """One generation; returns how many images were decoded."""
        body = {"input": {"prompt": "a lighthouse at dawn", "num_outputs": outputs, "seed": 10}}
        async with self._session.post(self._url, json=body, headers=SYNC_HEADERS) as response:
            prediction: dict[str, Any] = await response.json()
        decoded = await asyncio.gather(*(self._image(url) for url in prediction["output"]))
        return len(decoded)

    async def _image(self, url: str) -> bytes:
        async with self._session.get(url) as response:
            data = await response.read()
        return await asyncio.to_thread(decode_rgb, data)

    async def poll_every(self, interval: float) -> tuple[str, float]:
        """Create without a sync wait and poll at a fixed interval until the outputs are there.

        Returns the prediction id and the ``time.monotonic()`` the first image
        was decoded, for the long-prediction figures.
        """
        body = {"input": {"prompt": "a lighthouse at dawn", "seed": 10}}
        headers = {"Authorization": "Bearer bench"}
        async with self._session.post(self._url, json=body, headers=headers) as response:
            prediction: dict[str, Any] = await response.json()
        while prediction["status"] != "succeeded":
            await asyncio.sleep(interval)
            async with self._session.get(prediction["urls"]["get"], headers=headers) as response:
                prediction = await response.json()
        await self._image(prediction["output"][0])
        return str(prediction["id"]), time.monotonic()
