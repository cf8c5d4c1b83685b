"""The suite fits one-request APIs: passable from cassettes, and failing each misbehaviour.

A small backend for a synchronous API (one POST, answered with base64 images)
runs against a :class:`~imagegen_testing.fake_server.FakeServerProvider` in a
pytester session, as an author's own project would. The broken variants show
each new check can fail, with a message that says what to change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Imported by this (outer) process on purpose, so the in-process pytester runs
# that record and then replay share one PyYAML (see test_writing_a_backend_guide).
import yaml  # noqa: F401

INLINE_API = '''
import asyncio
import base64
import io
import json
import urllib.request
from pathlib import Path

import aiohttp
from aiohttp import web
from PIL import Image
from pydantic import SecretStr

from imagegen_core import (
    BackendSettings, Capabilities, ErrorKind, GeneratedImage, ImageBackend, ImageGenError,
    OutputFormat,
)
from imagegen_testing.conformance import ApiShape, BackendConformance, Scenario
from imagegen_testing.fake_server import FakeServerProvider, hold_open

KEY = "inline-key-0123456789"


class InlineSettings(BackendSettings):
    api_key: SecretStr = SecretStr("")
    base_url: str = "https://api.inline.example/v1"


class InlineBackend(ImageBackend[InlineSettings]):
    """One POST per request, held until the images are ready, answered with base64 files."""

    name = "inline"
    settings_model = InlineSettings
    forced_format = None

    @property
    def capabilities(self):
        return Capabilities(
            max_images_per_call=2,
            aspect_ratios=frozenset(),
            output_formats=frozenset({OutputFormat.PNG}),
        )

    async def _generate(self, request):
        body = {"prompt": request.prompt, "n": request.num_images,
                "format": self.forced_format or "png"}
        headers = {"Authorization": f"Bearer {self.settings.api_key.get_secret_value()}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            reply = await self._post(session, f"{self.settings.base_url}/images", body)
        for index, item in enumerate(reply["images"]):
            yield GeneratedImage(data=base64.b64decode(item), index=index)

    async def _post(self, session, url, body):
        async with session.post(url, json=body) as reply:
            if reply.status == 401:
                raise ImageGenError("key rejected", kind=ErrorKind.AUTHENTICATION)
            if reply.status >= 400:
                raise ImageGenError(f"HTTP {reply.status}", kind=ErrorKind.SERVER)
            return await reply.json()


class BlockingClient(InlineBackend):
    """Wraps a blocking HTTP client in a thread, which cancelling the task cannot stop."""

    async def _post(self, session, url, body):
        return await asyncio.to_thread(self._blocking_post, url, body)

    def _blocking_post(self, url, body):
        key = self.settings.api_key.get_secret_value()
        call = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(call, timeout=2) as reply:
            return json.load(reply)


class WrongFormat(InlineBackend):
    """Asks the server for JPEG whatever the request says."""

    forced_format = "jpeg"


class StreamingBackend(InlineBackend):
    """One POST answered with a stream of JSON lines: progress, then each image."""

    name = "streaming"

    async def _generate(self, request):
        body = {"prompt": request.prompt, "n": request.num_images, "format": "png"}
        headers = {"Authorization": f"Bearer {self.settings.api_key.get_secret_value()}"}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.post(f"{self.settings.base_url}/stream", json=body) as reply,
        ):
            if reply.status == 401:
                raise ImageGenError("key rejected", kind=ErrorKind.AUTHENTICATION)
            if reply.status >= 400:
                raise ImageGenError(f"HTTP {reply.status}", kind=ErrorKind.SERVER)
            index = 0
            async for line in reply.content:
                event = json.loads(line)
                if "image" in event:
                    yield GeneratedImage(data=base64.b64decode(event["image"]), index=index)
                    index += 1


def picture(fmt):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 16), "teal").save(buffer, "JPEG" if fmt == "jpeg" else "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


class InlineFake(FakeServerProvider):
    canonical_origin = "https://api.inline.example"
    answer_cancel = False

    def routes(self, scenario):
        async def images(request):
            return await self.images(request, scenario)

        async def stream(request):
            return await self.stream(request, scenario)

        return {"POST /v1/images": images, "POST /v1/stream": stream}

    def backend_settings(self, origin):
        return {"base_url": f"{origin}/v1", "api_key": SecretStr(KEY)}

    def secrets(self):
        return [KEY]

    @staticmethod
    def refusal(request, scenario):
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"error": "bad key"}, status=401)
        if scenario is Scenario.FAILURE:
            return web.json_response({"error": "out of memory"}, status=500)
        return None

    async def images(self, request, scenario):
        refused = self.refusal(request, scenario)
        if refused is not None:
            return refused
        body = await request.json()
        if scenario is Scenario.CANCEL and not self.answer_cancel:
            await hold_open()
        return web.json_response({"images": [picture(body["format"])] * body["n"]})

    async def stream(self, request, scenario):
        refused = self.refusal(request, scenario)
        if refused is not None:
            return refused
        body = await request.json()
        reply = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await reply.prepare(request)
        await reply.write(b'{"progress": 0.5}\\n')
        if scenario is Scenario.CANCEL:
            await hold_open()
        for _ in range(body["n"]):
            await reply.write(json.dumps({"image": picture("png")}).encode() + b"\\n")
        await reply.write_eof()
        return reply


class AnswersAtOnce(InlineFake):
    answer_cancel = True


class Base(BackendConformance):
    backend = InlineBackend
    backend_settings = {"api_key": "replay-key-0000"}
    invalid_auth_settings = {"api_key": "rejected-0000"}
    failure_kind = ErrorKind.SERVER
    api_shape = ApiShape.ONE_REQUEST
    cassette_dir = Path(__file__).parent / "cassettes"
    cancel_timeout = 3.0

    def live_provider(self):
        return InlineFake()


class TestInline(Base):
    pass


class TestStreaming(Base):
    backend = StreamingBackend
    api_shape = ApiShape.STREAMING
    cassette_dir = Path(__file__).parent / "stream-cassettes"


class TestBlockingClient(Base):
    backend = BlockingClient


class TestWrongFormat(Base):
    backend = WrongFormat


class TestDeclaredAsQueue(Base):
    api_shape = ApiShape.QUEUE
    generation_timeout = 1.0


class TestNoProvider(Base):
    def live_provider(self):
        return None


class TestAnswersAtOnce(Base):
    def live_provider(self):
        return AnswersAtOnce()
'''

# The standard tests that need no Pipecat and no entry point (the backend is
# a class defined in the test module, not an installed plugin).
_OFFLINE = "not pipecat and not entry_point and not selectable"


@pytest.fixture
def inline(suite_pytester: pytest.Pytester) -> pytest.Pytester:
    suite_pytester.makepyfile(test_inline=INLINE_API)
    return suite_pytester


def _run(pytester: pytest.Pytester, selection: str, *options: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-rs", "-k", f"{selection} and {_OFFLINE}", *options
    )


@pytest.mark.parametrize(
    ("case", "folder"), [("TestInline", "cassettes"), ("TestStreaming", "stream-cassettes")]
)
def test_one_request_and_streaming_apis_record_then_replay_offline_cancellation_included(
    inline: pytest.Pytester, case: str, folder: str
) -> None:
    recorded = _run(inline, case, "--record-mode=once")
    # (text to image only, and no progress reported: the edit and progress tests skip)
    recorded.assert_outcomes(passed=15, skipped=2)
    cassettes = sorted(p.name for p in (inline.path / folder).glob("*.yaml"))
    # No cassette for the cancellation: it never replays one.
    assert "test_cancellation.yaml" not in cassettes
    assert "test_generate_one.yaml" in cassettes
    for cassette in cassettes:
        text = (inline.path / folder / cassette).read_text()
        assert "127.0.0.1" not in text, cassette
        assert "inline-key-0123456789" not in text, cassette

    # Replay: the cancellation test holds a request open on the in-process
    # fake, which --block-network lets through because it is loopback.
    replayed = _run(inline, case, "--block-network")
    replayed.assert_outcomes(passed=15, skipped=2)


def test_block_network_still_blocks_what_is_not_loopback(inline: pytest.Pytester) -> None:
    inline.makepyfile(
        test_blocked="""
        import socket

        import pytest

        from imagegen_testing.conformance import LOOPBACK_HOSTS
        from pytest_recording.network import is_host_in_allowed_hosts


        def test_patterns():
            allowed = list(LOOPBACK_HOSTS)
            assert is_host_in_allowed_hosts("127.0.0.1", allowed)
            assert is_host_in_allowed_hosts("::1", allowed)
            assert not is_host_in_allowed_hosts("127.0.0.10", allowed)
            assert not is_host_in_allowed_hosts("10.0.0.1", allowed)
        """
    )
    result = inline.runpytest_inprocess("-p", "no:cacheprovider", "test_blocked.py")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("TestBlockingClient", "request(s) still open at the provider after cancellation"),
        ("TestDeclaredAsQueue", "set api_shape = ApiShape.ONE_REQUEST"),
        ("TestNoProvider", "it needs a live provider in every run"),
        ("TestAnswersAtOnce", "must hold the request open until the client goes away"),
    ],
)
def test_cancellation_misbehaviour_fails_with_what_to_change(
    inline: pytest.Pytester, case: str, message: str
) -> None:
    result = inline.runpytest_inprocess(
        "-p", "no:cacheprovider", f"test_inline.py::{case}::test_cancellation", "--record-mode=once"
    )
    result.assert_outcomes(failed=1)
    assert message in result.stdout.str()
    assert not (inline.path / "cassettes" / "test_cancellation.yaml").exists()


def test_a_failed_recording_leaves_no_cassette(inline: pytest.Pytester) -> None:
    test = "test_inline.py::TestWrongFormat::test_generate_one"
    result = inline.runpytest_inprocess("-p", "no:cacheprovider", test, "--record-mode=once")
    result.assert_outcomes(failed=1)
    assert "asked for png" in result.stdout.str()
    assert not (inline.path / "cassettes" / "test_generate_one.yaml").exists()
    result.stdout.fnmatch_lines(
        ["*the cassette test_generate_one.yaml this test recorded was removed*"]
    )


def test_a_failed_rewrite_puts_the_previous_cassette_back(inline: pytest.Pytester) -> None:
    good = _run(inline, "TestInline and test_generate_one", "--record-mode=once")
    good.assert_outcomes(passed=1)
    cassette: Path = inline.path / "cassettes" / "test_generate_one.yaml"
    before = cassette.read_bytes()

    test = "test_inline.py::TestWrongFormat::test_generate_one"
    result = inline.runpytest_inprocess("-p", "no:cacheprovider", test, "--record-mode=rewrite")

    result.assert_outcomes(failed=1)
    assert cassette.read_bytes() == before
