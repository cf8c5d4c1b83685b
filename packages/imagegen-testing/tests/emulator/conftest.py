"""Fixtures: a fresh emulator per test and a tiny client for its API.

Tests run with ``--import-mode=importlib``, so they cannot import from this
file; everything they share comes through the ``api`` fixture.
"""

from __future__ import annotations

import base64
import io
import json as json_module
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from PIL import Image

from imagegen_testing.emulator import FLUX_SCHNELL, ReplicateEmulator

SMALL: dict[str, Any] = {
    "prompt": "a lighthouse at dawn",
    "megapixels": "0.25",
    "output_format": "jpg",
}
"""A cheap input: 512x512 JPEG encodes in about a millisecond."""

MODEL_PATH = f"/models/{FLUX_SCHNELL}/predictions"


@dataclass
class Reply:
    """One HTTP reply, read fully."""

    status: int
    headers: Mapping[str, str]
    body: Any
    content_type: str


class Api:
    """Just enough of a Replicate client to drive the emulator from tests."""

    SMALL = SMALL
    MODEL_PATH = MODEL_PATH

    def __init__(self, emulator: ReplicateEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session

    def headers(self, **extra: str) -> dict[str, str]:
        """The emulator's bearer token plus ``extra`` headers."""
        return {"Authorization": f"Bearer {self.emulator.api_token}", **extra}

    async def request(
        self, method: str, path: str, *, json: Any = None, headers: Mapping[str, str] | None = None
    ) -> Reply:
        url = path if path.startswith("http") else f"{self.emulator.base_url}{path}"
        async with self.session.request(
            method, url, json=json, headers=self.headers() if headers is None else headers
        ) as response:
            text = await response.text()
            body: Any = text
            if response.content_type in {"application/json", "application/problem+json"}:
                body = await response.json(content_type=None)
            return Reply(response.status, response.headers, body, response.content_type)

    async def create(
        self, input: Mapping[str, Any] | None = None, *, path: str = MODEL_PATH, **headers: str
    ) -> Reply:
        return await self.request(
            "POST",
            path,
            json={"input": dict(SMALL if input is None else input)},
            headers=self.headers(**headers),
        )

    async def get(self, prediction_id: str) -> Reply:
        return await self.request("GET", f"/predictions/{prediction_id}")

    async def cancel(self, prediction_id: str) -> Reply:
        return await self.request("POST", f"/predictions/{prediction_id}/cancel")

    @staticmethod
    def png(
        size: tuple[int, int] = (40, 30), colour: tuple[int, int, int] = (10, 120, 200)
    ) -> bytes:
        """A small PNG to use as an input image."""
        buffer = io.BytesIO()
        Image.new("RGB", size, colour).save(buffer, "PNG")
        return buffer.getvalue()

    @staticmethod
    def data_url(data: bytes, media_type: str = "image/png") -> str:
        return f"data:{media_type};base64,{base64.b64encode(data).decode()}"

    async def upload(
        self,
        data: bytes,
        *,
        name: str = "photo.png",
        content_type: str = "image/png",
        metadata: Any = None,
    ) -> tuple[int, Any]:
        """``POST /files`` as Replicate's clients send it; the status and the JSON reply."""
        form = aiohttp.FormData()
        form.add_field("content", data, filename=name, content_type=content_type)
        if metadata is not None:
            form.add_field("metadata", json_module.dumps(metadata), content_type="application/json")
        async with self.session.post(
            f"{self.emulator.base_url}/files", data=form, headers=self.headers()
        ) as response:
            return response.status, await response.json(content_type=None)

    @staticmethod
    def decode(data: bytes) -> Image.Image:
        """Fully decode an image (``load`` catches truncation that ``open`` misses)."""
        image = Image.open(io.BytesIO(data))
        image.load()
        return image

    async def download(self, url: str) -> tuple[int, str, bytes]:
        async with self.session.get(url) as response:
            return response.status, response.content_type, await response.read()


@pytest.fixture
async def emulator() -> AsyncIterator[ReplicateEmulator]:
    async with ReplicateEmulator(seed=7, min_cancel_after=0) as emu:
        yield emu


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def api(emulator: ReplicateEmulator, session: aiohttp.ClientSession) -> Api:
    return Api(emulator, session)
