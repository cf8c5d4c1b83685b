"""What the conformance suite cannot know about Acme: its own replies and limits.

Each test serves scripted replies from an aiohttp server on 127.0.0.1 (tests
never reach the internet).
"""

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from acme_imagegen import AcmeBackend
from imagegen_core import ErrorKind, ImageGenError, ImageRequest

PNG_SIGNATURE = "data:image/png;base64,iVBORw0KGgo="
Reply = Callable[[str], tuple[int, Any]]  # the server's own URL -> (status, JSON body)


def job(status: str, output: list[str] | None = None, *, get: str | None = None) -> Reply:
    def reply(origin: str) -> tuple[int, Any]:
        link = f"{origin}/v1/predictions/j1"
        urls = {"get": get or link, "cancel": f"{link}/cancel"}
        return 201, {"id": "j1", "status": status, "urls": urls, "output": output}

    return reply


@pytest.fixture
async def acme() -> AsyncIterator[Callable[..., Any]]:
    servers: list[TestServer] = []

    async def start(*replies: Reply) -> AcmeBackend:
        script = list(replies)

        async def answer(request: web.Request) -> web.Response:
            status, body = script.pop(0)(f"{request.scheme}://{request.host}")
            return web.json_response(body, status=status, headers={"Retry-After": "0"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        base = str(server.make_url("/v1"))
        return AcmeBackend({"api_key": "k", "base_url": base, "poll_interval": 0.01})

    yield start
    for server in servers:
        await server.close()


async def test_a_throttled_create_is_retried(acme: Callable[..., Any]) -> None:
    throttled: Reply = lambda _: (429, {"detail": "slow down"})  # noqa: E731
    async with await acme(throttled, job("succeeded", [PNG_SIGNATURE])) as backend:
        [image] = await backend.generate(ImageRequest(prompt="a fox")).collect()
    assert image.data == b"\x89PNG\r\n\x1a\n"
    assert image.media_type == "image/png"


async def test_more_outputs_than_asked_for_are_dropped(acme: Callable[..., Any]) -> None:
    async with await acme(job("succeeded", [PNG_SIGNATURE] * 3)) as backend:
        images = await backend.generate(ImageRequest(prompt="a fox", num_images=1)).collect()
    assert [image.index for image in images] == [0]


async def test_a_reply_that_is_not_a_job_is_a_server_error(acme: Callable[..., Any]) -> None:
    async with await acme(lambda _: (201, {"id": "j1"})) as backend:
        with pytest.raises(ImageGenError) as caught:
            await backend.generate(ImageRequest(prompt="a fox")).collect()
    assert caught.value.kind is ErrorKind.SERVER


async def test_links_off_the_api_origin_are_not_followed(acme: Callable[..., Any]) -> None:
    elsewhere = job("starting", get="https://elsewhere.example/jobs/j1")
    async with await acme(elsewhere) as backend:
        with pytest.raises(ImageGenError, match="outside its API"):
            await backend.generate(ImageRequest(prompt="a fox")).collect()
