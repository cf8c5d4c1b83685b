"""BackendImageGenService in real Pipecat pipelines (``pipecat.tests.utils.run_test``).

Runs against whichever Pipecat is installed; the nox ``compat`` session runs
it on 0.0.108, the first 1.8 and the newest release.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web
from loguru import logger
from PIL import Image
from pipecat.frames.frames import (
    CancelFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    MetricsFrame,
    ServiceUpdateSettingsFrame,
    TextFrame,
    URLImageRawFrame,
)
from pipecat.metrics.metrics import ProcessingMetricsData, TTFBMetricsData
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from imagegen_core import (
    MAX_PROMPT_LENGTH,
    AddressPolicy,
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    ImageBackend,
    ImageGenError,
    ImageRequest,
    OutputFormat,
)
from imagegen_core._downloads import _guarded
from imagegen_core.pipecat import _compat as compat
from imagegen_core.pipecat._failover import failure_policy
from imagegen_core.pipecat._service import BackendImageGenService, ImageGenUpdateSettingsFrame
from imagegen_testing.conformance.capture import loguru_messages
from imagegen_testing.fake import FakeBackend
from imagegen_testing.pipecat_run import error_frames as errors
from imagegen_testing.pipecat_run import image_frames as images
from imagegen_testing.pipecat_run import pause
from imagegen_testing.pipecat_run import run_service as run

Settings = BackendImageGenService.Settings


# -- helpers ---------------------------------------------------------------------------


def png(size: tuple[int, int], colour: tuple[int, ...], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def category_of(frame: ErrorFrame) -> str | None:
    category = getattr(frame, "category", None)
    return None if category is None else category.name


class ScriptedBackend(ImageBackend[BackendSettings]):
    """Returns the given outputs (bytes as data, strings as URLs) and records requests."""

    name: ClassVar[str] = "scripted"
    settings_model: ClassVar[type[BackendSettings]] = BackendSettings

    def __init__(
        self,
        outputs: Sequence[bytes | str],
        *,
        supports_seed: bool = True,
        aspect_ratios: frozenset[str] | None = None,
        max_images_per_call: int = 16,
    ) -> None:
        super().__init__()
        self.outputs = list(outputs)
        self.supports_seed = supports_seed
        self.aspect_ratios = aspect_ratios
        self.max_images_per_call = max_images_per_call
        self.requests: list[ImageRequest] = []

    def address_policy(self) -> AddressPolicy:
        # Its images are served on loopback, as a local provider's would be.
        return AddressPolicy(trusted_hosts=frozenset({"127.0.0.1"}))

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_images_per_call=self.max_images_per_call,
            aspect_ratios=self.aspect_ratios,
            supports_seed=self.supports_seed,
            supports_size=True,
            supports_negative_prompt=True,
            supports_quality=True,
            output_formats=frozenset(OutputFormat),
        )

    async def _generate(self, request: ImageRequest) -> AsyncIterator[GeneratedImage]:
        self.requests.append(request)
        for index, output in enumerate(self.outputs[: request.num_images]):
            if isinstance(output, bytes):
                yield GeneratedImage(data=output, media_type="image/png", index=index)
            else:
                yield GeneratedImage(url=output, index=index)


class ImageServer:
    """Serves image files on 127.0.0.1; a route may be held until released."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.hits: dict[str, int] = {}
        self.held: dict[str, asyncio.Event] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        if request.path in self.redirects:
            return web.Response(status=302, headers={"Location": self.redirects[request.path]})
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if request.path in self.held:
                await asyncio.wait_for(self.held[request.path].wait(), 5)
            return web.Response(body=self.files[request.path], content_type="image/png")
        finally:
            self.in_flight -= 1

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return f"{self.base}{path}"


@pytest.fixture
async def image_server() -> AsyncIterator[ImageServer]:
    server = ImageServer()
    app = web.Application()
    app.router.add_get("/{name}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield server
    for event in server.held.values():
        event.set()
    await runner.cleanup()


# -- frames and pixels -------------------------------------------------------------


async def test_a_prompt_becomes_an_rgb_frame_with_exact_pixels() -> None:
    service = BackendImageGenService(backend=ScriptedBackend([png((4, 3), (9, 99, 199))]))
    down, up = await run(service, [TextFrame("a blue square")])
    assert [type(frame) for frame in down] == [TextFrame, URLImageRawFrame]
    [frame] = images(down)
    assert frame.format == "RGB"
    assert frame.size == (4, 3)
    assert len(frame.image) == 4 * 3 * 3
    assert frame.image == bytes((9, 99, 199)) * 12
    assert frame.url is None
    assert frame.metadata["imagegen"]["backend"] == "scripted"
    assert up == []


async def test_fake_backend_images_have_the_size_and_length_they_claim() -> None:
    service = BackendImageGenService(
        backend=FakeBackend(), settings=Settings(size="48x32", output_format="webp")
    )
    down, _ = await run(service, [TextFrame("a harbour")])
    [frame] = images(down)
    assert frame.size == (48, 32)
    assert len(frame.image) == 48 * 32 * 3


@pytest.mark.parametrize(
    ("pixel_mode", "expected"),
    [("RGB", bytes((255, 255, 255))), ("RGBA", bytes((0, 0, 0, 0))), ("L", bytes((255,)))],
)
async def test_transparency_is_flattened_onto_white_unless_the_mode_keeps_it(
    pixel_mode: str, expected: bytes
) -> None:
    transparent = png((2, 2), (0, 0, 0, 0), mode="RGBA")
    service = BackendImageGenService(backend=ScriptedBackend([transparent]), pixel_mode=pixel_mode)
    [frame] = images((await run(service, [TextFrame("a ghost")]))[0])
    assert frame.format == pixel_mode
    assert frame.image == expected * 4


async def test_pixels_are_decoded_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    from imagegen_core import _decode_pool, _decoding

    loop_thread = threading.get_ident()
    decoded_in: list[threading.Thread] = []
    real_decode = _decoding.decode_image

    def recording_decode(*args: Any, **kwargs: Any) -> _decoding.DecodedImage:
        decoded_in.append(threading.current_thread())
        return real_decode(*args, **kwargs)

    # Images this small decode in the pool's threads, not in a worker process.
    monkeypatch.setattr(_decode_pool, "decode_image", recording_decode)
    backend = ScriptedBackend([png((2, 2), (1, 2, 3)), png((2, 2), (4, 5, 6))])
    service = BackendImageGenService(backend=backend, settings=Settings(num_images=2))
    down, _ = await run(service, [TextFrame("two")])
    assert len(images(down)) == 2
    assert len(decoded_in) == 2
    assert loop_thread not in {thread.ident for thread in decoded_in}
    # In the decode threads the whole process shares (see _decode_pool).
    assert {thread.name.split("_")[0] for thread in decoded_in} == {"imagegen-decode"}


async def test_the_decode_workers_start_with_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    from imagegen_core.pipecat import _service

    started_in: list[int] = []

    def start_decode_workers() -> int:
        started_in.append(threading.get_ident())
        return 2

    monkeypatch.setattr(_service, "start_decode_workers", start_decode_workers)
    service = BackendImageGenService(backend=ScriptedBackend([png((2, 2), (1, 2, 3))]))
    down, _ = await run(service, [TextFrame("one")])
    assert len(images(down)) == 1
    assert len(started_in) == 1
    assert threading.get_ident() not in started_in  # process start-up kept off the loop


async def test_several_images_arrive_in_completion_order(image_server: ImageServer) -> None:
    image_server.held["/slow.png"] = asyncio.Event()
    slow = image_server.add("/slow.png", png((2, 2), (255, 0, 0)))
    backend = ScriptedBackend([slow, png((2, 2), (0, 0, 255))])
    service = BackendImageGenService(backend=backend, settings=Settings(num_images=2))

    async def release_when_the_fast_one_is_out(_: Any, frame: Frame) -> None:
        if isinstance(frame, URLImageRawFrame):
            image_server.held["/slow.png"].set()

    service.add_event_handler("on_after_push_frame", release_when_the_fast_one_is_out)
    down, _ = await run(service, [TextFrame("two squares")])
    frames = images(down)
    assert [frame.metadata["imagegen"]["index"] for frame in frames] == [1, 0]
    assert frames[1].url == slow
    assert frames[1].image[:3] == bytes((255, 0, 0))


# -- downloads ----------------------------------------------------------------------


async def test_urls_are_downloaded_concurrently_with_the_callers_session(
    image_server: ImageServer,
) -> None:
    urls = []
    release = asyncio.Event()
    for name in ("a", "b", "c"):
        image_server.held[f"/{name}.png"] = release
        urls.append(image_server.add(f"/{name}.png", png((3, 3), (0, 200, 0))))

    async def release_when_all_three_are_waiting() -> None:
        while image_server.in_flight < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        release.set()

    sent_through_callers_session: list[str] = []

    async def on_request_start(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        sent_through_callers_session.append(str(params.url))

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(on_request_start)
    waiter = asyncio.create_task(release_when_all_three_are_waiting())
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        service = BackendImageGenService(
            backend=ScriptedBackend(urls), settings=Settings(num_images=3), aiohttp_session=session
        )
        down, up = await run(service, [TextFrame("three greens")])
        assert not session.closed
    await waiter
    assert sorted(sent_through_callers_session) == sorted(urls)
    assert image_server.most_in_flight == 3
    assert sorted(frame.url for frame in images(down)) == sorted(urls)
    assert up == []


async def test_the_service_opens_one_session_for_every_download_and_closes_it(
    image_server: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[aiohttp.ClientSession] = []
    real_session = aiohttp.ClientSession

    connectors: list[Any] = []

    def recording_session(**options: Any) -> aiohttp.ClientSession:
        connectors.append(options.get("connector"))
        opened.append(real_session(**options))
        return opened[-1]

    monkeypatch.setattr("imagegen_core.pipecat._service.aiohttp.ClientSession", recording_session)
    urls = [image_server.add(f"/{n}.png", png((2, 2), (1, 2, 3))) for n in ("one", "two")]
    service = BackendImageGenService(backend=ScriptedBackend(urls), settings=Settings(num_images=2))
    down, _ = await run(service, [TextFrame("first"), TextFrame("second")])
    assert len(images(down)) == 4
    [session] = opened
    assert session.closed
    # Its lookups refuse names that lead to private addresses.
    assert _guarded(connectors[0])


async def test_no_session_is_opened_for_images_sent_as_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("no session was needed")

    monkeypatch.setattr("imagegen_core.pipecat._service.aiohttp.ClientSession", refuse)
    service = BackendImageGenService(backend=ScriptedBackend([png((1, 1), (0, 0, 0))]))
    assert len(images((await run(service, [TextFrame("dot")]))[0])) == 1


async def test_a_download_over_the_byte_cap_is_an_error_frame(image_server: ImageServer) -> None:
    url = image_server.add("/huge.png", png((64, 64), (5, 5, 5)) + b"\x00" * 10_000)
    service = BackendImageGenService(backend=ScriptedBackend([url]), max_download_bytes=5_000)
    down, up = await run(service, [TextFrame("huge")])
    assert images(down) == []
    [error] = errors(up)
    assert "max_download_bytes" in error.error
    if compat.HAS_ERROR_CATEGORIES:
        assert category_of(error) == "INVALID_REQUEST"


class FloodingBackend(ScriptedBackend):
    """Yields every output it was given, however few images were asked for."""

    async def _generate(self, request: ImageRequest) -> AsyncIterator[GeneratedImage]:
        self.requests.append(request)
        for index, output in enumerate(self.outputs):
            yield GeneratedImage(data=output, media_type="image/png", index=index)  # type: ignore[arg-type]


async def test_a_reply_with_more_images_than_asked_gives_only_those_asked() -> None:
    service = BackendImageGenService(backend=FloodingBackend([png((1, 1), (0, 0, 0))] * 300))
    with loguru_messages() as lines:
        down, up = await run(service, [TextFrame("one, please")])
    assert len(images(down)) == 1
    assert errors(up) == []
    assert any("more than the 1 image asked for" in line for line in lines)


async def test_an_inline_image_obeys_the_download_byte_cap() -> None:
    inline = png((64, 64), (5, 5, 5)) + b"\x00" * 10_000
    service = BackendImageGenService(backend=ScriptedBackend([inline]), max_download_bytes=5_000)
    down, up = await run(service, [TextFrame("huge, inline")])
    assert images(down) == []
    [error] = errors(up)
    assert "image 0 (sent inline) is larger than the download limit of 5,000 bytes" in error.error
    assert "max_download_bytes" in error.error


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "its host is a link-local address"),
        ("http://10.1.2.3/a.png", "its host is a private address (10.1.2.3)"),
        ("file:///etc/passwd", "its link is a 'file' URL; only http and https URLs are fetched"),
        ("/to-file", "it redirected to a 'file' URL"),
        ("/to-ftp", "it redirected to a 'ftp' URL"),
        ("/to-metadata", "refused to download http://169.254.169.254/"),
        ("/loop", "a redirect loop (more than 10 redirects)"),
    ],
)
async def test_an_unusable_link_fails_the_prompt_and_is_no_outage(
    image_server: ImageServer, output: str, message: str
) -> None:
    image_server.redirects.update(
        {
            "/to-file": "file:///etc/passwd",
            "/to-ftp": "ftp://files.example/a.png",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/loop": "/loop",
        }
    )
    url = f"{image_server.base}{output}" if output.startswith("/") else output
    service = BackendImageGenService(backend=ScriptedBackend([url]))
    _, up = await run(service, [TextFrame("bad link")])
    [error] = errors(up)
    assert message in error.error
    assert error.error.startswith("server: ")
    assert not error.fatal
    hops = image_server.hits.get(output, 0)
    assert hops <= (11 if output == "/loop" else 1), "not retried"
    if compat.HAS_USABILITY:
        assert service.is_usable, "one unusable link is no outage"


async def test_a_decompression_bomb_is_an_error_frame_not_a_crash(
    image_server: ImageServer,
) -> None:
    # A real PNG, a few kilobytes on the wire, that decodes to a megapixel.
    bomb = image_server.add("/bomb.png", png((1_000, 1_000), (0,), mode="L"))
    fine = png((2, 2), (7, 7, 7))
    backend = ScriptedBackend([bomb, fine])
    service = BackendImageGenService(
        backend=backend, settings=Settings(num_images=2), max_pixels=100_000
    )
    down, up = await run(service, [TextFrame("bomb")])
    assert [frame.image[:3] for frame in images(down)] == [bytes((7, 7, 7))]
    [error] = errors(up)
    assert "max_pixels" in error.error


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        (ErrorKind.AUTHENTICATION, "AUTHENTICATION"),
        (ErrorKind.CONTENT_POLICY, "APPLICATION"),
        (ErrorKind.RATE_LIMIT, "RATE_LIMIT"),
        (ErrorKind.TIMEOUT, "CONNECTIVITY"),
        (ErrorKind.SERVER, "SERVER"),
        (ErrorKind.UNKNOWN, "UNKNOWN"),
    ],
)
async def test_failures_become_categorised_error_frames(kind: ErrorKind, category: str) -> None:
    service = BackendImageGenService(backend=FakeBackend({"fail_with": kind}))
    down, up = await run(service, [TextFrame("anything")])
    assert images(down) == []
    [error] = errors(up)
    assert f"{kind.value}: scripted {kind.value} failure" in error.error
    assert not error.fatal
    if compat.HAS_ERROR_CATEGORIES:
        assert category_of(error) == category
    if compat.HAS_USABILITY:
        assert service.is_usable is not failure_policy(ImageGenError("", kind=kind)).permanent


async def test_error_frames_carry_no_secret() -> None:
    class LeakyBackend(FakeBackend):
        async def _generate(self, request: ImageRequest) -> AsyncIterator[GeneratedImage]:
            key = self.settings.api_key.get_secret_value()
            raise ImageGenError(f"rejected Authorization: {key}", kind=ErrorKind.AUTHENTICATION)
            yield  # pragma: no cover

    secret = "fake-valid-key"
    service = BackendImageGenService(backend=LeakyBackend({"api_key": secret}))
    _, up = await run(service, [TextFrame("x")])
    [error] = errors(up)
    assert secret not in error.error
    assert secret not in str(error.exception)


@pytest.mark.parametrize(
    ("prompt", "says"),
    [
        ("   ", "only whitespace"),
        ("x" * (MAX_PROMPT_LENGTH + 1), f"maximum is {MAX_PROMPT_LENGTH}"),
    ],
    ids=["blank", "too-long"],
)
async def test_a_bad_prompt_is_the_applications_mistake_and_sends_nothing(
    prompt: str, says: str
) -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend)
    down, up = await run(service, [TextFrame(prompt)])
    [error] = errors(up)
    assert images(down) == []
    assert "prompt" in error.error
    assert says in error.error
    assert backend.jobs_started == 0
    if compat.HAS_ERROR_CATEGORIES:
        assert category_of(error) == "APPLICATION"
    if compat.HAS_USABILITY:
        assert service.is_usable


async def test_strict_mode_refuses_what_the_backend_cannot_honour() -> None:
    backend = ScriptedBackend([png((1, 1), (0, 0, 0))], supports_seed=False)
    with pytest.raises(ImageGenError, match="strict mode"):
        BackendImageGenService(backend=backend, settings=Settings(seed=7), strict=True)
    service = BackendImageGenService(backend=backend, strict=True)
    update = ImageGenUpdateSettingsFrame(delta=Settings(seed=7))
    down, up = await run(service, [update, TextFrame("unseeded")])
    # Refused when set, as at construction; the next prompt runs on the old settings.
    assert "settings update refused: strict mode" in errors(up)[0].error
    assert [request.seed for request in backend.requests] == [None]
    assert len(images(down)) == 1


async def test_warnings_are_logged_and_the_images_still_delivered() -> None:
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="WARNING")
    try:
        backend = ScriptedBackend([png((1, 1), (0, 0, 0))], supports_seed=False)
        service = BackendImageGenService(backend=backend, settings=Settings(seed=7))
        down, up = await run(service, [TextFrame("seeded")])
    finally:
        logger.remove(sink)
    assert len(images(down)) == 1
    assert up == []
    assert any("unsupported-setting (seed)" in line for line in logged)


async def test_a_success_makes_a_written_off_service_usable_again() -> None:
    if not compat.HAS_USABILITY:
        pytest.skip("this Pipecat has no notion of usability")
    service = BackendImageGenService(backend=FakeBackend())
    await service.set_usable(False)
    down, _ = await run(service, [TextFrame("x")])
    assert len(images(down)) == 1
    assert service.is_usable


# -- failover -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ErrorKind.SERVER, ErrorKind.AUTHENTICATION, ErrorKind.QUOTA])
async def test_service_switcher_fails_over_to_the_next_backend(kind: ErrorKind) -> None:
    from pipecat.pipeline.service_switcher import (
        ServiceSwitcher,
        ServiceSwitcherStrategyFailover,
    )

    failing_backend = FakeBackend({"fail_with": kind})
    working_backend = FakeBackend()
    failing = BackendImageGenService(backend=failing_backend, name="failing")
    working = BackendImageGenService(backend=working_backend, name="working")
    switcher = ServiceSwitcher(
        services=[failing, working], strategy_type=ServiceSwitcherStrategyFailover
    )
    down, _ = await run(switcher, [TextFrame("first"), pause(0.2), TextFrame("second")])
    assert switcher.strategy.active_service is working
    assert (failing_backend.jobs_started, working_backend.jobs_started) == (1, 1)
    assert len(images(down)) == 1


async def test_a_content_refusal_does_not_fail_over_where_pipecat_can_tell() -> None:
    if not compat.HAS_USABILITY:
        pytest.skip("Pipecat before 1.8 fails over on every error")
    from pipecat.pipeline.service_switcher import (
        ServiceSwitcher,
        ServiceSwitcherStrategyFailover,
    )

    refusing = BackendImageGenService(backend=FakeBackend({"fail_with": ErrorKind.CONTENT_POLICY}))
    spare = BackendImageGenService(backend=FakeBackend())
    switcher = ServiceSwitcher(
        services=[refusing, spare], strategy_type=ServiceSwitcherStrategyFailover
    )
    await run(switcher, [TextFrame("something refused")])
    assert switcher.strategy.active_service is refusing


# -- cancellation ---------------------------------------------------------------------


async def test_an_interruption_cancels_the_remote_work() -> None:
    backend = FakeBackend({"latency": 30, "cancel_latency": 0.02})
    service = BackendImageGenService(backend=backend)
    down, up = await run(
        service, [TextFrame("never finished"), pause(0.1), InterruptionFrame(), pause(0.05)]
    )
    assert backend.jobs_started == 1
    assert backend.jobs_cancelled == 1
    assert backend.jobs_running == 0
    assert images(down) == []
    assert errors(up) == []


async def test_the_service_works_on_after_an_interruption() -> None:
    backend = FakeBackend({"latency": 0.3})
    service = BackendImageGenService(backend=backend)
    frames = [TextFrame("dropped"), pause(0.1), InterruptionFrame(), TextFrame("kept")]
    down, _ = await run(service, frames)
    assert (backend.jobs_started, backend.jobs_cancelled) == (2, 1)
    assert len(images(down)) == 1


def uninterruptible_text(text: str) -> TextFrame:
    """A TextFrame marked the way the installed Pipecat marks uninterruptible frames."""
    frame = TextFrame(text)
    if hasattr(frame, "interruptible"):  # 1.12+
        frame.interruptible = False
        return frame
    from pipecat.frames.frames import UninterruptibleFrame

    @dataclasses.dataclass
    class KeepTextFrame(TextFrame, UninterruptibleFrame):
        pass

    return KeepTextFrame(text)


async def test_an_uninterruptible_prompt_survives_an_interruption() -> None:
    backend = FakeBackend({"latency": 0.2})
    service = BackendImageGenService(backend=backend)
    prompt = uninterruptible_text("keep me")
    assert not compat.is_interruptible(prompt)
    assert compat.is_interruptible(TextFrame("drop me"))
    down, _ = await run(service, [prompt, pause(0.05), InterruptionFrame(), pause(0.3)])
    assert backend.jobs_cancelled == 0
    assert len(images(down)) == 1


async def test_a_cancel_frame_cancels_the_remote_work() -> None:
    backend = FakeBackend({"latency": 30})
    service = BackendImageGenService(backend=backend)
    down, up = await run(
        service, [TextFrame("never finished"), pause(0.1), CancelFrame()], send_end_frame=False
    )
    assert (backend.jobs_started, backend.jobs_cancelled, backend.jobs_running) == (1, 1, 0)
    assert images(down) == []
    assert errors(up) == []


async def test_an_interruption_cancels_where_pipecat_cancels_no_task() -> None:
    """In direct mode Pipecat has no processing task to cancel; the service still cancels."""
    backend = FakeBackend({"latency": 30})
    service = BackendImageGenService(backend=backend, enable_direct_mode=True)
    consumer = asyncio.create_task(anext(service.run_image_gen("direct"), None))
    while backend.jobs_started == 0:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    await service.process_frame(InterruptionFrame(), FrameDirection.DOWNSTREAM)
    assert await asyncio.wait_for(consumer, 1) is None
    assert backend.jobs_cancelled == 1


async def test_cancel_reaches_generations_pipecat_did_not_cancel() -> None:
    """Called outside a pipeline (or in direct mode) nothing but the service can cancel."""
    backend = FakeBackend({"latency": 30})
    service = BackendImageGenService(backend=backend)
    consumer = asyncio.create_task(anext(service.run_image_gen("direct"), None))
    while backend.jobs_started == 0:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    await service.cancel(CancelFrame())
    assert await asyncio.wait_for(consumer, 1) is None
    assert backend.jobs_cancelled == 1


# -- settings -------------------------------------------------------------------------


async def test_a_settings_update_changes_the_next_request() -> None:
    backend = ScriptedBackend([png((1, 1), (0, 0, 0))] * 2)
    service = BackendImageGenService(backend=backend)
    delta = Settings(num_images=2, seed=7, aspect_ratio="16:9")
    delta.extra = {"num_inference_steps": 4}
    down, _ = await run(
        service,
        [TextFrame("before"), ImageGenUpdateSettingsFrame(delta=delta), TextFrame("after")],
    )
    before, after = backend.requests
    assert (before.num_images, before.seed, before.aspect_ratio, dict(before.options)) == (
        1,
        None,
        None,
        {},
    )
    assert (after.num_images, after.seed, after.aspect_ratio) == (2, 7, "16:9")
    assert after.options == {"num_inference_steps": 4}
    assert len(images(down)) == 3
    assert not any(isinstance(frame, ServiceUpdateSettingsFrame) for frame in down)


async def test_a_model_update_reaches_the_backend() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend)
    assert service._settings.model == "fake/painter"  # adopted from the backend
    down, _ = await run(
        service,
        [
            ServiceUpdateSettingsFrame(settings={"model": "fake/sketcher"}, service=service),
            TextFrame("x"),
        ],
    )
    assert backend.settings.model == "fake/sketcher"
    assert images(down)[0].metadata["imagegen"]["model"] == "fake/sketcher"


async def test_an_invalid_update_is_refused_whole_and_the_service_goes_on() -> None:
    backend = ScriptedBackend([png((1, 1), (0, 0, 0))])
    service = BackendImageGenService(backend=backend, settings=Settings(seed=1))
    bad = Settings(seed=2, aspect_ratio="wide")
    down, up = await run(
        service, [ImageGenUpdateSettingsFrame(delta=bad), TextFrame("still works")]
    )
    [error] = errors(up)
    assert "settings update refused" in error.error
    assert "aspect_ratio" in error.error
    assert backend.requests[0].seed == 1
    assert len(images(down)) == 1
    if compat.HAS_ERROR_CATEGORIES:
        assert category_of(error) == "APPLICATION"


WRONG_TYPES = [
    ("num_images", "2", "num_images must be int, not str"),
    ("num_images", True, "num_images must be int, not bool"),
    ("seed", 1.5, "seed must be int, not float"),
    ("quality", "high", "quality must be int, not str"),
    ("aspect_ratio", 16, "aspect_ratio must be str, not int"),
    ("negative_prompt", ["x"], "negative_prompt must be str, not list"),
    ("output_format", 3, "output_format must be str, not int"),
    ("size", 5, "size must be str or tuple[int, int], not int"),
    ("model", 5, "model must be str, not int"),
]


@pytest.mark.parametrize(("field", "value", "message"), WRONG_TYPES)
def test_wrong_typed_settings_are_refused_at_construction_by_name(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(ImageGenError) as caught:
        BackendImageGenService(backend=FakeBackend(), settings=Settings(**{field: value}))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert message in caught.value.message


def settings_frames(service: BackendImageGenService, **values: Any) -> list[Frame]:
    """The same update through both frames the service accepts: a delta and a mapping."""
    return [
        ImageGenUpdateSettingsFrame(delta=Settings(**values)),
        ServiceUpdateSettingsFrame(settings=values, service=service),
    ]


@pytest.mark.parametrize("frame_kind", [0, 1], ids=["delta", "mapping"])
@pytest.mark.parametrize(("field", "value", "message"), WRONG_TYPES)
async def test_wrong_typed_updates_are_application_errors_naming_the_field(
    field: str, value: Any, message: str, frame_kind: int
) -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, settings=Settings(seed=1))
    update = settings_frames(service, **{field: value})[frame_kind]
    down, up = await run(service, [update, TextFrame("still works")])
    [error] = errors(up)
    assert error.error.startswith("invalid_request: settings update refused")
    assert message in error.error
    assert not error.fatal
    if compat.HAS_ERROR_CATEGORIES:
        assert category_of(error) == "APPLICATION"
    assert len(images(down)) == 1
    assert service._settings.seed == 1
    assert backend.settings.model == "fake/painter"


async def test_settings_that_are_no_settings_object_are_refused_by_type() -> None:
    with pytest.raises(ImageGenError, match="settings must be a BackendImageGenSettings, not dict"):
        BackendImageGenService(backend=FakeBackend(), settings={"seed": 1})  # type: ignore[arg-type]
    service = BackendImageGenService(backend=FakeBackend())
    frames = [
        ServiceUpdateSettingsFrame(settings=["seed", 1], service=service),  # type: ignore[arg-type]
        TextFrame("still works"),
    ]
    down, up = await run(service, frames)
    assert "settings must be a mapping" in errors(up)[0].error
    assert len(images(down)) == 1


OUT_OF_REACH = [
    ({"num_images": 5}, "at most 4"),
    ({"aspect_ratio": "7:3"}, "aspect_ratio '7:3' is not offered; choose one of: 1:1, 16:9"),
]


@pytest.mark.parametrize("frame_kind", [0, 1], ids=["delta", "mapping"])
@pytest.mark.parametrize(("values", "message"), OUT_OF_REACH)
async def test_an_update_the_backend_cannot_serve_is_refused_and_the_old_settings_kept(
    values: dict[str, Any], message: str, frame_kind: int
) -> None:
    backend = ScriptedBackend(
        [png((1, 1), (0, 0, 0))] * 4,
        aspect_ratios=frozenset({"1:1", "16:9"}),
        max_images_per_call=4,
    )
    service = BackendImageGenService(backend=backend, settings=Settings(aspect_ratio="16:9"))
    update = settings_frames(service, **values)[frame_kind]
    down, up = await run(service, [update, TextFrame("still works")])
    [error] = errors(up)
    assert "settings update refused" in error.error
    assert message in error.error
    if compat.HAS_ERROR_CATEGORIES:
        assert category_of(error) == "APPLICATION"
    [request] = backend.requests
    assert (request.num_images, request.aspect_ratio) == (1, "16:9")
    assert len(images(down)) == 1


async def test_a_model_update_the_new_model_cannot_serve_puts_the_old_model_back() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, settings=Settings(num_images=4))
    # The fake's "max_images_per_call" stands for a model that makes fewer images.
    delta = Settings(model="fake/one-at-a-time")
    delta.extra = {"max_images_per_call": 1}
    service.backend_updates = lambda changed: {  # type: ignore[method-assign]
        key: changed[key] for key in ("model", "max_images_per_call") if key in changed
    }
    down, up = await run(service, [ImageGenUpdateSettingsFrame(delta=delta), TextFrame("x")])
    assert "at most 1" in errors(up)[0].error
    assert (backend.settings.model, backend.settings.max_images_per_call) == ("fake/painter", 4)
    assert len(images(down)) == 4


async def test_a_refused_update_does_not_fail_over_in_a_service_switcher() -> None:
    if not compat.HAS_USABILITY:
        pytest.skip("Pipecat before 1.8 fails over on every error")
    from pipecat.pipeline.service_switcher import (
        ServiceSwitcher,
        ServiceSwitcherStrategyFailover,
    )

    first_backend, spare_backend = FakeBackend(), FakeBackend()
    first = BackendImageGenService(backend=first_backend, name="first")
    spare = BackendImageGenService(backend=spare_backend, name="spare")
    switcher = ServiceSwitcher(
        services=[first, spare], strategy_type=ServiceSwitcherStrategyFailover
    )
    frames = [
        ImageGenUpdateSettingsFrame(delta=Settings(num_images=9)),
        ImageGenUpdateSettingsFrame(delta=Settings(seed="7")),  # type: ignore[arg-type]
        TextFrame("served by the first"),
    ]
    down, up = await run(switcher, frames)
    assert len(errors(up)) == 2
    assert switcher.strategy.active_service is first
    assert (first_backend.jobs_started, spare_backend.jobs_started) == (1, 0)
    assert len(images(down)) == 1


async def test_an_update_for_another_service_passes_through_untouched() -> None:
    backend = ScriptedBackend([png((1, 1), (0, 0, 0))])
    service = BackendImageGenService(backend=backend)
    other = BackendImageGenService(backend=ScriptedBackend([]))
    update = ImageGenUpdateSettingsFrame(delta=Settings(seed=5), service=other)
    down, _ = await run(service, [update, TextFrame("x")])
    assert update in down
    assert backend.requests[0].seed is None


# -- metrics --------------------------------------------------------------------------


async def test_ttfb_and_processing_metrics_are_reported() -> None:
    service = BackendImageGenService(backend=FakeBackend({"latency": 0.05}))
    assert service.can_generate_metrics()
    down, _ = await run(service, [TextFrame("timed")], metrics=True)
    # Some Pipecat releases report zeroed metrics at start; ours come after the prompt.
    after_prompt = down[next(i for i, f in enumerate(down) if isinstance(f, TextFrame)) :]
    data = [
        item for frame in after_prompt if isinstance(frame, MetricsFrame) for item in frame.data
    ]
    ttfb = [item for item in data if isinstance(item, TTFBMetricsData)]
    processing = [item for item in data if isinstance(item, ProcessingMetricsData)]
    assert len(ttfb) == 1
    assert len(processing) == 1
    assert ttfb[0].value >= 0.04
    assert processing[0].value >= ttfb[0].value
    kinds = [type(frame).__name__ for frame in down if not isinstance(frame, MetricsFrame)]
    assert kinds == ["TextFrame", "URLImageRawFrame"]


def ttfb_after_the_first_prompt(down: Sequence[Frame]) -> list[TTFBMetricsData]:
    after_prompt = down[next(i for i, f in enumerate(down) if isinstance(f, TextFrame)) :]
    return [
        item
        for frame in after_prompt
        if isinstance(frame, MetricsFrame)
        for item in frame.data
        if isinstance(item, TTFBMetricsData) and item.value > 0
    ]


@pytest.mark.parametrize("outcome", ["no-image", "failure", "interrupted"])
async def test_a_prompt_without_a_first_image_reports_no_ttfb(outcome: str) -> None:
    if not hasattr(FrameProcessor, "cancel_ttfb_metrics"):
        pytest.skip("this Pipecat cannot drop a started TTFB measurement")
    backend: ImageBackend[Any] = {
        "no-image": lambda: ScriptedBackend([]),
        "failure": lambda: FakeBackend({"fail_with": "server"}),
        "interrupted": lambda: FakeBackend({"latency": 30}),
    }[outcome]()
    service = BackendImageGenService(backend=backend)
    # Pipecat stops every open measurement on an interruption; one left open by
    # the prompt would be reported then, as if it had been this prompt's TTFB.
    frames = [TextFrame("nothing comes"), pause(0.05), InterruptionFrame(), pause(0.05)]
    down, _ = await run(service, frames, metrics=True)
    assert images(down) == []
    assert ttfb_after_the_first_prompt(down) == []


# -- construction and ownership ------------------------------------------------------


async def test_a_backend_the_caller_passed_is_left_open() -> None:
    backend = FakeBackend()
    await run(BackendImageGenService(backend=backend), [TextFrame("x")])
    assert not backend.closed


async def test_a_backend_chosen_by_name_is_created_and_closed_by_the_service() -> None:
    service = BackendImageGenService(backend="fake", backend_settings={"model": "fake/x"})
    assert isinstance(service.backend, FakeBackend)
    assert service.backend.settings.model == "fake/x"
    down, _ = await run(service, [TextFrame("x")])
    assert len(images(down)) == 1
    assert service.backend.closed


def test_without_a_backend_the_service_follows_imagegen_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IMAGEGEN_BACKEND", "fake")
    service = BackendImageGenService(backend_settings={"model": "fake/env"})
    assert isinstance(service.backend, FakeBackend)
    assert service.backend.settings.model == "fake/env"


async def test_close_backend_hands_ownership_to_the_service() -> None:
    backend = FakeBackend()
    await run(BackendImageGenService(backend=backend, close_backend=True), [TextFrame("x")])
    assert backend.closed


async def test_a_cancelled_pipeline_closes_what_the_service_owns() -> None:
    service = BackendImageGenService(backend="fake", backend_settings={"latency": 30})
    await run(service, [TextFrame("x"), pause(0.05), CancelFrame()], send_end_frame=False)
    assert service.backend.closed


def test_settings_are_checked_at_construction() -> None:
    with pytest.raises(ImageGenError, match="aspect_ratio"):
        BackendImageGenService(backend=FakeBackend(), settings=Settings(aspect_ratio="wide"))
    with pytest.raises(ImageGenError, match="at most 4"):
        BackendImageGenService(backend=FakeBackend(), settings=Settings(num_images=5))
    with pytest.raises(ImageGenError, match="no model setting"):
        BackendImageGenService(backend=ScriptedBackend([]), settings=Settings(model="m"))
    with pytest.raises(ValueError, match="pixel mode"):
        BackendImageGenService(backend=FakeBackend(), pixel_mode="CMYK")
    with pytest.raises(ValueError, match="backend_settings"):
        BackendImageGenService(backend=FakeBackend(), backend_settings={"latency": 1})
    with pytest.raises(ValueError, match="positive"):
        BackendImageGenService(backend=FakeBackend(), max_pixels=0)


def test_the_settings_model_reaches_the_backend_at_construction() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, settings=Settings(model="fake/other"))
    assert backend.settings.model == "fake/other"
    assert service._settings.model == "fake/other"


def test_a_fresh_store_has_no_unset_field() -> None:
    service = BackendImageGenService(backend=FakeBackend())
    values = [getattr(service._settings, name) for name in service._settings.given_fields()]
    assert len(service._settings.given_fields()) >= 8
    assert all(compat.is_given(value) for value in values)
    assert service._settings.num_images == 1
