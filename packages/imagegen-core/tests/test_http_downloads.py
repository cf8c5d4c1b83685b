"""Fetching image outputs over HTTP, against a local aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from imagegen_core import AddressPolicy
from imagegen_core._downloads import describe_url, guarded_connector
from imagegen_core._downloads import download as download_anywhere
from imagegen_core._errors import ErrorKind, ImageGenError

LOOPBACK_TRUSTED = AddressPolicy(trusted_hosts=frozenset({"127.0.0.1"}))
"""The test server is on loopback, which is refused unless trusted (as an API host is)."""


def download(session: aiohttp.ClientSession, url: str, **options: Any) -> Any:
    """:func:`download` as these tests use it: from the loopback test server."""
    return download_anywhere(session, url, **{"addresses": LOOPBACK_TRUSTED, **options})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """A loopback HTTP server whose routes each test scripts."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.base = ""

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        return await self.routes[request.path](request)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", state.dispatch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.base = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def reply(body: bytes = b"", status: int = 200, **headers: str) -> Handler:
    async def handle(_: web.Request) -> web.Response:
        return web.Response(
            body=body, status=status, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )

    return handle


def replies(*handlers: Handler) -> Handler:
    """Answer each request with the next handler; the last one repeats."""
    queue = list(handlers)

    async def handle(request: web.Request) -> web.StreamResponse:
        current = queue.pop(0) if len(queue) > 1 else queue[0]
        return await current(request)

    return handle


async def test_fetches_body_and_media_type(server: Server, session: aiohttp.ClientSession) -> None:
    server.routes["/a.png"] = reply(b"PNGDATA", content_type="image/png")
    fetched = await download(session, server.url("/a.png"))
    assert fetched.data == b"PNGDATA"
    assert fetched.media_type == "image/png"


async def test_announced_length_over_the_cap_is_refused(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.routes["/big"] = reply(b"x" * 2_000)
    with pytest.raises(ImageGenError) as caught:
        await download(session, server.url("/big"), max_bytes=1_000)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "max_download_bytes" in caught.value.message
    assert "2,000 bytes announced" in caught.value.message
    assert server.hits["/big"] == 1


async def test_streamed_body_over_the_cap_is_refused(
    server: Server, session: aiohttp.ClientSession
) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to check up front
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"x" * 1_000)
        await response.write_eof()
        return response

    server.routes["/stream"] = endless
    with pytest.raises(ImageGenError) as caught:
        await download(session, server.url("/stream"), max_bytes=5_000)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "the body kept going" in caught.value.message


async def test_gzip_bomb_is_capped_after_inflating(
    server: Server, session: aiohttp.ClientSession
) -> None:
    bomb = gzip.compress(b"\x00" * 1_000_000)
    assert len(bomb) < 5_000
    server.routes["/bomb"] = reply(bomb, Content_Encoding="gzip")
    with pytest.raises(ImageGenError) as caught:
        await download(session, server.url("/bomb"), max_bytes=100_000)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST


async def test_server_errors_are_retried_until_success(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.routes["/flaky"] = replies(reply(status=503), reply(status=502), reply(b"ok"))
    fetched = await download(session, server.url("/flaky"), backoff=0.01)
    assert fetched.data == b"ok"
    assert server.hits["/flaky"] == 3


async def test_retries_are_bounded(server: Server, session: aiohttp.ClientSession) -> None:
    server.routes["/down"] = reply(status=500)
    with pytest.raises(ImageGenError) as caught:
        await download(session, server.url("/down"), attempts=2, backoff=0.01)
    assert caught.value.kind is ErrorKind.SERVER
    assert caught.value.status == 500
    assert server.hits["/down"] == 2


async def test_rate_limit_honours_retry_after(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.routes["/busy"] = replies(reply(status=429, Retry_After="0"), reply(b"ok"))
    assert (await download(session, server.url("/busy"), backoff=30)).data == b"ok"
    assert server.hits["/busy"] == 2


async def test_expired_link_is_not_retried(server: Server, session: aiohttp.ClientSession) -> None:
    server.routes["/gone"] = reply(status=404)
    with pytest.raises(ImageGenError) as caught:
        await download(session, server.url("/gone"), backoff=0.01)
    assert caught.value.kind is ErrorKind.SERVER
    assert not caught.value.retryable
    assert server.hits["/gone"] == 1


async def test_raise_for_status_sessions_are_classified_too(server: Server) -> None:
    server.routes["/gone"] = reply(status=410)
    async with aiohttp.ClientSession(raise_for_status=True) as strict_session:
        with pytest.raises(ImageGenError) as caught:
            await download(strict_session, server.url("/gone"))
    assert caught.value.status == 410


async def test_refused_connection_is_connectivity(session: aiohttp.ClientSession) -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    with pytest.raises(ImageGenError) as caught:
        await download(session, f"http://127.0.0.1:{port}/x.png", attempts=1)
    assert caught.value.kind is ErrorKind.CONNECTIVITY
    assert caught.value.retryable


async def test_silence_is_a_timeout(server: Server, session: aiohttp.ClientSession) -> None:
    async def stall(_: web.Request) -> web.Response:
        await asyncio.sleep(0.25)
        return web.Response(body=b"late")

    server.routes["/slow"] = stall
    with pytest.raises(ImageGenError) as caught:
        await download(
            session,
            server.url("/slow"),
            client_timeout=aiohttp.ClientTimeout(sock_read=0.05),
            attempts=1,
        )
    assert caught.value.kind is ErrorKind.TIMEOUT


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.invalid/a.png", "not a url"])
async def test_only_http_urls_are_fetched(url: str, session: aiohttp.ClientSession) -> None:
    with pytest.raises(ImageGenError) as caught:
        await download(session, url)
    assert caught.value.kind is ErrorKind.SERVER
    assert "only http and https URLs are fetched" in caught.value.message


async def test_messages_never_carry_the_query_string(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.routes["/signed.png"] = reply(status=403)
    url = server.url("/signed.png?X-Amz-Signature=s3cr3tsignature&token=abc")
    with pytest.raises(ImageGenError) as caught:
        await download(session, url)
    assert "s3cr3tsignature" not in str(caught.value)
    assert "/signed.png" in str(caught.value)


def test_describe_url_drops_credentials_and_query() -> None:
    assert (
        describe_url("https://user:pw@cdn.example.com:8443/o/a.webp?sig=1#x")
        == "https://cdn.example.com:8443/o/a.webp"
    )
    assert describe_url("nonsense") == "<malformed URL>"


async def test_arguments_are_checked(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        await download(session, "http://127.0.0.1/", max_bytes=0)
    with pytest.raises(ValueError, match="attempts"):
        await download(session, "http://127.0.0.1/", attempts=0)


# -- links that cannot or may not be fetched ------------------------------------------


def redirect(location: str) -> Handler:
    async def handle(_: web.Request) -> web.StreamResponse:
        # A raw header: web.HTTPFound would normalise the URL's encoding.
        return web.Response(status=302, headers={"Location": location})

    return handle


@pytest.mark.parametrize("scheme", ["file", "ftp"])
async def test_a_redirect_to_another_scheme_is_an_unusable_link_not_connectivity(
    server: Server, session: aiohttp.ClientSession, scheme: str
) -> None:
    server.routes["/out.png"] = redirect(f"{scheme}:///etc/passwd")
    with pytest.raises(ImageGenError) as caught:
        await download(session, server.url("/out.png"), backoff=0.01)
    error = caught.value
    assert (error.kind, error.retryable) == (ErrorKind.SERVER, False)
    assert f"it redirected to a {scheme!r} URL; only http and https URLs are fetched" in str(error)
    assert server.hits["/out.png"] == 1, "not retried"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://files.example/a.png", "gopher:x"])
async def test_a_link_that_is_not_http_is_refused_before_any_request(
    session: aiohttp.ClientSession, url: str
) -> None:
    with pytest.raises(ImageGenError) as caught:
        await download_anywhere(session, url)
    assert (caught.value.kind, caught.value.retryable) == (ErrorKind.SERVER, False)
    assert "only http and https URLs are fetched" in caught.value.message


async def test_a_redirect_loop_says_so(server: Server, session: aiohttp.ClientSession) -> None:
    server.routes["/loop"] = redirect("/loop")
    with pytest.raises(ImageGenError) as caught:
        await download(session, server.url("/loop"), backoff=0.01)
    assert caught.value.message.endswith("a redirect loop (more than 10 redirects)")
    assert "HTTP 0" not in caught.value.message
    assert (caught.value.kind, caught.value.retryable) == (ErrorKind.SERVER, False)
    assert server.hits["/loop"] == 11


async def test_redirects_are_followed_with_the_query_string_unchanged(
    server: Server, session: aiohttp.ClientSession
) -> None:
    seen: list[str] = []

    async def signed(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        return web.Response(body=b"png", content_type="image/png")

    server.routes["/short"] = redirect("/files/a.png?X-Sig=a%2Fb%3D&e=1")
    server.routes["/files/a.png"] = signed
    assert (await download(session, server.url("/short"))).data == b"png"
    assert seen == ["/files/a.png?X-Sig=a%2Fb%3D&e=1"]


@pytest.mark.parametrize(
    ("host", "what"),
    [
        ("127.0.0.1", "a loopback address (127.0.0.1)"),
        ("169.254.169.254", "a link-local address (169.254.169.254)"),
        ("10.0.0.7", "a private address (10.0.0.7)"),
        ("[::1]", "a loopback address (::1)"),
        ("[::ffff:169.254.169.254]", "a link-local address (169.254.169.254)"),
    ],
)
async def test_private_loopback_and_link_local_targets_are_refused_by_default(
    session: aiohttp.ClientSession, host: str, what: str
) -> None:
    with pytest.raises(ImageGenError) as caught:
        await download_anywhere(session, f"http://{host}/latest/meta-data/")
    error = caught.value
    assert (error.kind, error.retryable) == (ErrorKind.SERVER, False)
    assert f"its host is {what}" in error.message
    assert "allow_private_urls" in error.message


async def test_a_redirect_to_a_private_address_is_refused(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.routes["/out.png"] = redirect("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(ImageGenError) as caught:
        await download(session, server.url("/out.png"))
    assert "refused to download http://169.254.169.254/latest/meta-data/" in caught.value.message


async def test_a_name_that_resolves_to_a_refused_address_is_refused(
    server: Server, session: aiohttp.ClientSession
) -> None:
    # "localhost" names no address itself; it resolves to loopback.
    server.routes["/a.png"] = reply(b"png")
    url = server.url("/a.png").replace("127.0.0.1", "localhost")
    with pytest.raises(ImageGenError) as caught:
        await download_anywhere(session, url)
    assert "refused to download http://localhost:" in caught.value.message
    assert "its host is a loopback address (127.0.0.1)" in caught.value.message


async def test_a_guarded_connector_refuses_such_a_name_before_connecting(
    server: Server,
) -> None:
    server.routes["/a.png"] = reply(b"png")
    url = server.url("/a.png").replace("127.0.0.1", "localhost")
    async with aiohttp.ClientSession(connector=guarded_connector()) as guarded:
        with pytest.raises(ImageGenError) as caught:
            await download_anywhere(guarded, url)
        assert "its host is a loopback address (127.0.0.1)" in caught.value.message
        assert (caught.value.kind, caught.value.retryable) == (ErrorKind.SERVER, False)
        assert server.hits["/a.png"] == 0, "nothing was sent"
        # The API's own host stays reachable through the same connector's policy.
        trusting = aiohttp.ClientSession(
            connector=guarded_connector(AddressPolicy(trusted_hosts=frozenset({"localhost"})))
        )
        async with trusting:
            assert (await download_anywhere(trusting, url, addresses=trusting_policy())).data
    assert server.hits["/a.png"] == 1


def trusting_policy() -> AddressPolicy:
    return AddressPolicy(trusted_hosts=frozenset({"localhost"}))


async def test_allow_private_fetches_any_target(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.routes["/a.png"] = reply(b"png")
    fetched = await download_anywhere(
        session, server.url("/a.png"), addresses=AddressPolicy(allow_private=True)
    )
    assert fetched.data == b"png"


def test_a_policy_trusts_the_hosts_of_its_base_urls() -> None:
    policy = AddressPolicy.for_base_urls("http://127.0.0.1:5000/v1", None, "not a url")
    assert policy.trusted_hosts == frozenset({"127.0.0.1"})
    assert policy.refusal("127.0.0.1", "127.0.0.1") is None
    assert policy.refusal("LOCALHOST", "127.0.0.1") == "a loopback address (127.0.0.1)"
    assert policy.refusal("cdn.example", "93.184.216.34") is None
    assert policy.refusal("x", "fc00::1") == "a private address (fc00::1)"
    assert policy.refusal("x", "100.64.0.1") == "a non-public address (100.64.0.1)"


class _EnvSettings:
    """Settings whose base URL comes from a value read at each use, like an environment variable."""

    def __init__(self) -> None:
        self.base_url = "http://127.0.0.1:8000/v1"
        self.allow_private_urls = False

    def resolve_base_url(self) -> str:
        return self.base_url


def test_settings_policy_follows_a_base_url_read_at_each_use() -> None:
    # The policy is cached per base URL, not per settings object: a base URL
    # that changes (an environment variable re-pointed) is trusted at once.
    settings = _EnvSettings()
    first = AddressPolicy.for_settings(settings)
    assert first.trusts("127.0.0.1")
    assert not first.trusts("10.0.0.5")
    assert AddressPolicy.for_settings(settings) == first
    settings.base_url = "http://10.0.0.5:9000/v1"
    moved = AddressPolicy.for_settings(settings)
    assert moved.trusts("10.0.0.5")
    assert not moved.trusts("127.0.0.1")
    settings.allow_private_urls = True
    assert AddressPolicy.for_settings(settings).allow_private


def test_policy_subclass_gets_its_own_class_from_settings() -> None:
    class Stricter(AddressPolicy):
        pass

    assert type(Stricter.for_settings(_EnvSettings())) is Stricter
