"""A garbled reply, end to end: a clear ``server`` error, never retried, nothing left running.

The emulator only ever answers what Replicate documents, so a few lines of
aiohttp stand in for an API (or a proxy in front of it) that answers a
successful status with something that is not a prediction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from imagegen_core import ErrorKind, ImageGenError, ImageRequest
from imagegen_replicate import ReplicateBackend

from .conftest import FAST, stand_in_api

TOKEN = "r8_stand_in_token_never_echoed"


@dataclass
class StandIn:
    """Replies to hand out, in order, per route; and what was asked of it."""

    base_url: str = ""
    creates: list[str] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def _prediction(status: str, output: Any = None) -> str:
    return json.dumps({"id": "garbled1", "status": status, "output": output, "urls": {}})


@pytest.fixture
async def stand_in() -> AsyncIterator[StandIn]:
    state = StandIn()

    def answer(replies: list[str], what: str) -> web.Response:
        state.requests.append(what)
        return web.Response(text=replies.pop(0), status=200, content_type="application/json")

    async def create(request: web.Request) -> web.Response:
        return answer(state.creates, "create")

    async def poll(request: web.Request) -> web.Response:
        return answer(state.polls, "poll")

    async def cancel(request: web.Request) -> web.Response:
        return answer(state.cancels, "cancel")

    app = web.Application()
    app.router.add_post("/v1/models/someone/other-model/predictions", create)
    app.router.add_get("/v1/predictions/{id}", poll)
    app.router.add_post("/v1/predictions/{id}/cancel", cancel)
    async with stand_in_api(app) as state.base_url:
        yield state


async def _fails(stand_in: StandIn) -> ImageGenError:
    settings = {**FAST, "api_token": TOKEN, "base_url": stand_in.base_url}
    async with ReplicateBackend({**settings, "model": "someone/other-model"}) as backend:
        with pytest.raises(ImageGenError) as caught:
            await backend.generate(ImageRequest(prompt="x")).collect()
    error = caught.value
    assert error.kind is ErrorKind.SERVER
    assert error.retryable is False
    assert error.backend == "replicate"
    assert TOKEN not in str(error)
    return error


async def test_a_garbled_create_reply_is_not_retried(stand_in: StandIn) -> None:
    # Repeating a create could bill a second prediction; the first may exist.
    stand_in.creates += ["[]", _prediction("succeeded", ["https://x/0.png"])]
    error = await _fails(stand_in)
    assert "while creating a prediction" in error.message
    assert "it is a JSON array, not an object" in error.message
    assert stand_in.requests == ["create"]


async def test_a_garbled_poll_reply_fails_and_cancels_the_prediction(stand_in: StandIn) -> None:
    stand_in.creates.append(_prediction("processing"))
    stand_in.polls.append(_prediction("queued"))
    stand_in.cancels.append(_prediction("canceled"))
    error = await _fails(stand_in)
    assert "while polling prediction garbled1" in error.message
    assert "status is none of" in error.message
    # Not retried, and the prediction it could no longer follow is not left running.
    assert stand_in.requests == ["create", "poll", "cancel"]


async def test_an_output_that_is_not_files_fails_with_the_reply(stand_in: StandIn) -> None:
    stand_in.creates.append(_prediction("succeeded", [{"text": "a caption"}]))
    error = await _fails(stand_in)
    assert "output: an output object has no 'url'" in error.message


async def test_a_cancel_reply_that_is_not_a_prediction_still_cancelled(
    stand_in: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # The 2xx is what says the cancel was taken; its body is not read, so a
    # garbled one does not turn a cancel that happened into a reported failure.
    caplog.set_level(logging.WARNING, logger="imagegen")
    stand_in.creates.append(_prediction("processing"))
    stand_in.polls.append('{"id": "garbled1"')
    stand_in.cancels.append("<html>ok</html>")
    await _fails(stand_in)
    assert stand_in.requests == ["create", "poll", "cancel"]
    assert not [r for r in caplog.records if "cancelling Replicate prediction" in r.getMessage()]
