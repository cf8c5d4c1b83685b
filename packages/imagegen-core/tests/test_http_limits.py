"""``Retry-After`` parsing and capped body reads, shared by downloads and backends."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from imagegen_core._http_limits import read_capped, retry_after_seconds

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 0.25 ", 0.25),
        ("0", 0.0),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:10", None),  # no zone: not an HTTP date
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == (
        pytest.approx(expected) if expected is not None else None
    )


class TooLarge(Exception):
    pass


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async def exact(_: web.Request) -> web.Response:
        return web.Response(body=b"x" * 1000)

    async def announced(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000000"})
        await response.prepare(request)
        await response.write(b"x" * 10)
        return response

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no length announced
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"x" * 1024)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/exact", exact)
    app.router.add_get("/announced", announced)
    app.router.add_get("/endless", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def read(url: str, max_bytes: int) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await read_capped(response, max_bytes, TooLarge)


async def test_a_body_within_the_cap_is_read_whole(base_url: str) -> None:
    assert await read(f"{base_url}/exact", 1000) == b"x" * 1000


async def test_an_announced_length_over_the_cap_is_refused_before_reading(base_url: str) -> None:
    with pytest.raises(TooLarge, match="1,000,000 bytes announced"):
        await read(f"{base_url}/announced", 1000)


async def _raw_server(reply: bytes, then: bytes = b"") -> tuple[asyncio.Server, str]:
    """A server that answers every connection with ``reply`` as it is, then ``then``; hangs up."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        if then:
            await asyncio.sleep(0.05)  # the client has the response by now
            writer.write(then)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/"


async def test_a_body_past_its_announced_length_is_not_read() -> None:
    # Arriving with the response, bytes past the length make aiohttp refuse it
    # outright; arriving after it, they are never part of the body.
    server, url = await _raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"y" * 10, then=b"y" * 5000
    )
    async with server:
        assert await read(url, 1000) == b"y" * 10


async def test_a_body_shorter_than_announced_is_a_connection_failure() -> None:
    server, url = await _raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + b"y" * 10
    )
    async with server:
        with pytest.raises(aiohttp.ClientPayloadError):
            await read(url, 1000)


async def test_an_empty_announced_body_reads_as_empty() -> None:
    server, url = await _raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    async with server:
        assert await read(url, 1000) == b""


async def test_a_large_announced_body_arriving_in_pieces_is_read_whole() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: many socket reads
    server, url = await _raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
    )
    async with server:
        assert await read(url, len(body)) == body


async def test_a_body_that_keeps_going_is_refused_at_the_cap(base_url: str) -> None:
    with pytest.raises(TooLarge, match="the body kept going"):
        await read(f"{base_url}/endless", 10_000)
