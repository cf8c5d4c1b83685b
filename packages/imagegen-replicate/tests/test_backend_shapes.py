"""Output shapes other models produce, end to end, from a minimal stand-in API.

The emulator speaks flux-schnell, whose output is always a list of URLs; other
Replicate models answer with a single URL string or objects with a ``url``,
and a prediction can succeed with no output at all. A few lines of aiohttp
serve exactly those replies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from imagegen_core import ErrorKind, ImageGenError, ImageRequest
from imagegen_replicate import ReplicateBackend

from .conftest import FAST, stand_in_api


def _prediction(output: Any) -> dict[str, Any]:
    return {
        "id": "shape-test",
        "model": "someone/other-model",
        "version": "hidden",
        "status": "succeeded",
        "output": output,
        "error": None,
        "data_removed": False,
        "metrics": {"predict_time": 0.5},
        "urls": {},
    }


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[str, list[Any]]]:
    """A loopback server whose create endpoint answers the next queued output."""
    outputs: list[Any] = []

    async def create(request: web.Request) -> web.Response:
        return web.json_response(_prediction(outputs.pop(0)), status=201)

    app = web.Application()
    app.router.add_post("/v1/models/someone/other-model/predictions", create)
    async with stand_in_api(app) as base_url:
        yield base_url, outputs


def _backend(base_url: str) -> ReplicateBackend:
    settings = {**FAST, "api_token": "stand-in-token", "base_url": base_url}
    return ReplicateBackend({**settings, "model": "someone/other-model"})


@pytest.mark.parametrize(
    "output",
    [
        "https://replicate.delivery/xyz/out.png",
        {"url": "https://replicate.delivery/xyz/out.png"},
        [{"url": "https://replicate.delivery/xyz/out.png"}],
    ],
    ids=["single string", "object with url", "list of objects"],
)
async def test_other_output_shapes(stand_in: tuple[str, list[Any]], output: Any) -> None:
    base_url, outputs = stand_in
    outputs.append(output)
    async with _backend(base_url) as backend:
        [image] = await backend.generate(ImageRequest(prompt="x")).collect()
    assert image.url == "https://replicate.delivery/xyz/out.png"
    assert image.media_type == "image/png"
    assert image.metadata["model"] == "someone/other-model"
    assert image.metadata["predict_time"] == 0.5


@pytest.mark.parametrize("output", [None, []], ids=["null", "empty list"])
async def test_success_without_images_is_an_error(
    stand_in: tuple[str, list[Any]], output: Any
) -> None:
    base_url, outputs = stand_in
    outputs.append(output)
    async with _backend(base_url) as backend:
        with pytest.raises(ImageGenError) as caught:
            await backend.generate(ImageRequest(prompt="x")).collect()
    assert caught.value.kind is ErrorKind.CONTENT_POLICY
    assert "succeeded but returned no images" in caught.value.message


async def test_output_that_is_not_a_file_is_an_error(stand_in: tuple[str, list[Any]]) -> None:
    base_url, outputs = stand_in
    outputs.append({"text": "a caption, not an image"})
    async with _backend(base_url) as backend:
        with pytest.raises(ImageGenError, match="no 'url'"):
            await backend.generate(ImageRequest(prompt="x")).collect()
