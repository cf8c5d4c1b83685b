"""A file host that misbehaves in ways the emulator does not: redirects, bombs, non-images.

Provider replies are untrusted: an output URL can point anywhere. The bad
input section points the emulator's replies at this host (on loopback, a
port of its own) to see each odd download end in a categorized error.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from PIL import Image

__all__ = ["StandIn", "stand_in_host"]


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and holds almost none (a bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _small_webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(out, format="WEBP")
    return out.getvalue()


class StandIn:
    """The URLs the stand-in host serves."""

    def __init__(self, origin: str, other_loopback: str) -> None:
        self.origin = origin
        self.other_loopback = other_loopback
        """The same routes on 127.0.0.2: loopback, but not the API's host."""

    def url(self, name: str) -> str:
        """The URL of one of the host's routes (see :func:`stand_in_host`)."""
        return f"{self.origin}/files/{name}"


def _app() -> web.Application:
    async def redirect_file(_: web.Request) -> web.Response:
        raise web.HTTPFound("file:///etc/passwd")

    async def redirect_ftp(_: web.Request) -> web.Response:
        raise web.HTTPFound("ftp://ftp.invalid/out.png")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url))

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")

    async def bomb(_: web.Request) -> web.Response:
        return web.Response(body=_png_header(200_000, 200_000), content_type="image/png")

    async def missing(_: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    image = _small_webp()

    async def good(_: web.Request) -> web.Response:
        return web.Response(body=image, content_type="image/webp")

    app = web.Application()
    app.router.add_get("/files/redirect-file", redirect_file)
    app.router.add_get("/files/redirect-ftp", redirect_ftp)
    app.router.add_get("/files/loop", loop)
    app.router.add_get("/files/page.png", html)
    app.router.add_get("/files/bomb.png", bomb)
    app.router.add_get("/files/missing.png", missing)
    app.router.add_get("/files/image.webp", good)
    return app


@asynccontextmanager
async def stand_in_host() -> AsyncIterator[StandIn]:
    """Serve the stand-in host on a loopback port for the duration."""
    runner = web.AppRunner(_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await web.TCPSite(runner, "127.0.0.2", 0).start()
    (_, port), (_, other) = runner.addresses[:2]
    try:
        yield StandIn(f"http://127.0.0.1:{port}", f"http://127.0.0.2:{other}")
    finally:
        await runner.cleanup()
