"""An in-process fake of a provider's HTTP API, for backend authors' tests and recordings.

Most providers have no emulator. An author who wants to record cassettes
without an account, script failures on cue, or hold a request open long
enough to cancel it writes a few aiohttp handlers instead and serves them
with :class:`FakeServer`: on a loopback port, in the test's own event loop,
so it needs no thread, no network and no cleanup beyond :meth:`FakeServer.stop`.

:class:`FakeServerProvider` turns such a server into the
:class:`~imagegen_testing.conformance.LiveProvider` the conformance suite
records against: routes per scenario, backend settings that point at the
server, loopback URLs rewritten to the real service's in cassettes, and the
requests still open counted as the remote work left running (what the
cancellation test checks for one-request and streaming APIs).

The server is started with aiohttp's *handler cancellation* on: when the
client goes away, the handler serving it is cancelled, exactly as a provider
stops working on a request nobody waits for any more. A handler that holds a
request open can therefore simply wait (``await hold_open()``).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Self

from aiohttp import web

from imagegen_testing.conformance.providers import LiveProvider, is_aiohttp_server_task
from imagegen_testing.conformance.scenarios import Scenario

__all__ = ["FakeServer", "FakeServerProvider", "Handler", "hold_open", "is_aiohttp_server_task"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp request handler."""


async def hold_open() -> None:
    """Wait until the client goes away (the handler is then cancelled): a request held open.

    For the ``CANCEL`` scenario of a one-request or streaming API: the
    backend's request stays in flight until the test cancels it.
    """
    await asyncio.Event().wait()


class FakeServer:
    """aiohttp handlers served on ``127.0.0.1`` at a free port, counting requests.

    Example::

        async def generate(request: web.Request) -> web.Response:
            return web.json_response({"images": [...]})

        async with FakeServer({"POST /v1/images": generate}) as server:
            url = server.url("/v1/images")

    Args:
        routes: ``{"METHOD /path": handler}``; paths may use aiohttp's
            ``{name}`` patterns. More can be added with :meth:`add_route`
            before :meth:`start`.
        host: The loopback address to bind.
    """

    def __init__(
        self, routes: Mapping[str, Handler] | None = None, *, host: str = "127.0.0.1"
    ) -> None:
        self._app = web.Application(middlewares=[self._count])
        self._host = host
        self._runner: web.AppRunner | None = None
        self._origin = ""
        self.requests: Counter[str] = Counter()
        """Requests received so far, by ``"METHOD /path"`` (the path as requested)."""
        self.in_flight = 0
        """Requests being handled right now (not yet answered, client still there)."""
        for key, handler in (routes or {}).items():
            self.add_route(key, handler)

    def add_route(self, key: str, handler: Handler) -> None:
        """Serve ``handler`` at ``key`` (``"METHOD /path"``)."""
        method, _, path = key.partition(" ")
        if not path.startswith("/"):
            raise ValueError(f"a route is 'METHOD /path', not {key!r}")
        self._app.router.add_route(method, path, handler)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` (only once started)."""
        if not self._origin:
            raise RuntimeError("the fake server is not started")
        return self._origin

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return f"{self.origin}/{path.lstrip('/')}"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        if self._runner is not None:
            raise RuntimeError("the fake server is already started")
        runner = web.AppRunner(self._app, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, self._host, 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._origin = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Close every connection and stop listening; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"FakeServer({self._origin or 'not started'})"

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests[f"{request.method} {request.path}"] += 1
        self.in_flight += 1
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


class FakeServerProvider(LiveProvider):
    """A :class:`LiveProvider` backed by a :class:`FakeServer`: subclass it for your API.

    Implement :meth:`routes` (the handlers for a scenario) and
    :meth:`backend_settings` (what points the backend at the server), and set
    :attr:`canonical_origin` to the real service's origin, which replaces the
    server's loopback address in cassettes so they replay without it.
    The server's open requests count as remote work still running; a
    provider whose API queues jobs overrides :meth:`remote_jobs_running`.
    """

    canonical_origin: str = "https://api.example.com"
    """The real service's scheme and host, written into cassettes instead of the fake's."""

    def __init__(self) -> None:
        self.server: FakeServer | None = None

    @abstractmethod
    def routes(self, scenario: Scenario) -> Mapping[str, Handler]:
        """The handlers that play the provider in ``scenario`` (``{"METHOD /path": handler}``)."""

    @abstractmethod
    def backend_settings(self, origin: str) -> Mapping[str, Any]:
        """Backend settings that point at the server at ``origin`` (base URL, a key)."""

    async def start(self, scenario: Scenario) -> Mapping[str, Any]:
        """Serve :meth:`routes` for ``scenario`` and return :meth:`backend_settings`."""
        server = FakeServer(self.routes(scenario))
        await server.start()
        self.server = server
        return self.backend_settings(server.origin)

    async def stop(self) -> None:
        """Stop the server."""
        server, self.server = self.server, None
        if server is not None:
            await server.stop()

    def url_map(self) -> Mapping[str, str]:
        """The server's origin -> :attr:`canonical_origin`."""
        if self.server is None:
            return {}
        return {self.server.origin: self.canonical_origin.rstrip("/")}

    def secrets(self) -> Iterable[str]:
        """Credentials the fake hands out (none by default); override to scrub yours."""
        return ()

    def owns_task(self, task: asyncio.Task[Any]) -> bool:
        """The server's connection tasks."""
        return self.server is not None and is_aiohttp_server_task(task)

    def remote_jobs_running(self) -> int | None:
        """Requests the server is still handling: work a one-request API is still doing."""
        if self.server is None:
            return None
        return self.server.in_flight
