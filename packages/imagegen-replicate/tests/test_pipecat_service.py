"""ReplicateImageGenService: the old plugin's API, on the core service, against the emulator."""

from __future__ import annotations

import ast
import inspect
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from pipecat.frames.frames import (
    CancelFrame,
    DataFrame,
    Frame,
    InterruptionFrame,
    TextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from imagegen_core import ErrorKind, ImageGenError, OutputFormat
from imagegen_core.pipecat import ImageGenUpdateSettingsFrame, is_given
from imagegen_replicate import BASE_URL_ENV_VAR, TOKEN_ENV_VAR, ReplicateImageGenService
from imagegen_testing.emulator import (
    DEFAULT_DEPLOYMENT,
    FLUX_SCHNELL,
    Fault,
    Latency,
    ReplicateEmulator,
    Route,
)
from imagegen_testing.pipecat_run import error_frames as errors
from imagegen_testing.pipecat_run import image_frames as images
from imagegen_testing.pipecat_run import pause
from imagegen_testing.pipecat_run import run_service as run

Settings = ReplicateImageGenService.Settings

# The usage snippet of the old plugin's documentation page
# (shared/seed/replicate-image-gen-service.md), verbatim but for its import line.
SEED_SNIPPET = """\
import aiohttp
from imagegen_replicate import ReplicateImageGenService
from pipecat.frames.frames import TextFrame

async with aiohttp.ClientSession() as session:
    image_gen = ReplicateImageGenService(
        aiohttp_session=session,
        settings=ReplicateImageGenService.Settings(
            model="black-forest-labs/flux-schnell",
            aspect_ratio="1:1",
        ),
    )

    # ... add image_gen to your pipeline, then queue a prompt:
    await task.queue_frames(
        [TextFrame("a cat in the style of a screenprint poster")]
    )
"""


class SnippetTask:
    """Stands in for the snippet's ``task``: runs the queued frames through ``image_gen``.

    The snippet builds ``image_gen`` itself and leaves "add it to your
    pipeline" to the reader; this is that pipeline.
    """

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace
        self.down: list[Frame] = []
        self.up: list[Frame] = []

    async def queue_frames(self, frames: Sequence[Frame]) -> None:
        self.down, self.up = await run(self._namespace["image_gen"], frames)


async def test_the_seed_snippet_runs_unmodified(monkeypatch: pytest.MonkeyPatch) -> None:
    async with ReplicateEmulator() as emulator:
        # The snippet passes no token and no base URL: both come from the environment.
        monkeypatch.setenv(TOKEN_ENV_VAR, emulator.api_token)
        monkeypatch.setenv(BASE_URL_ENV_VAR, emulator.base_url)
        namespace: dict[str, Any] = {}
        task = namespace["task"] = SnippetTask(namespace)
        # Top-level await, as in a notebook or `python -m asyncio`: the text runs as written.
        code = compile(SEED_SNIPPET, "seed-snippet", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        pending = eval(code, namespace)  # noqa: S307 - our own fixed text
        if pending is not None:
            await pending

        assert errors(task.up) == []
        [frame] = images(task.down)
        assert frame.format == "RGB"  # the PIL mode, not the old plugin's "WEBP"
        assert frame.size == (1024, 1024)
        assert len(frame.image) == 1024 * 1024 * 3
        assert frame.url is not None
        assert frame.url.startswith(emulator.base_url.removesuffix("/v1"))
        [record] = emulator.predictions.values()
        assert record.route is Route.MODELS_PREDICTIONS_CREATE
        assert record.input == {
            "prompt": "a cat in the style of a screenprint poster",
            "aspect_ratio": "1:1",
            "num_outputs": 1,
            "num_inference_steps": 4,
            "output_format": "webp",
            "output_quality": 80,
            "disable_safety_checker": False,
            "go_fast": True,
            "megapixels": "1",
        }
        assert emulator.counters.files_with_authorization == 0
    assert os.environ[TOKEN_ENV_VAR] == emulator.api_token  # only what the test itself set


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def test_settings_defaults_are_the_old_plugins(session: aiohttp.ClientSession) -> None:
    service = ReplicateImageGenService(aiohttp_session=session)
    settings = service._settings
    assert (settings.model, settings.aspect_ratio, settings.num_outputs) == (FLUX_SCHNELL, "1:1", 1)
    assert (settings.num_inference_steps, settings.seed) == (4, None)
    assert settings.output_format == "webp"
    assert (settings.output_quality, settings.disable_safety_checker) == (80, False)
    assert (settings.go_fast, settings.megapixels) == (True, "1")
    # A delta leaves what it does not name alone.
    assert not is_given(Settings(aspect_ratio="16:9").num_outputs)


def test_constructor_parameters_reach_the_backend(
    monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession
) -> None:
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    token = "r8_ConstructorTokenNeverInEnviron0001"
    service = ReplicateImageGenService(
        aiohttp_session=session,
        api_token=token,
        base_url="http://127.0.0.1:9/v1",
        wait_timeout_secs=5,
        poll_interval_secs=0.25,
        max_poll_attempts=7,
    )
    settings = service.replicate_backend.settings
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == token
    assert (settings.base_url, settings.wait_seconds) == ("http://127.0.0.1:9/v1", 5)
    assert (settings.poll_interval, settings.max_polls) == (0.25, 7)
    assert token not in os.environ.values()  # the old plugin exported it; we do not
    assert token not in repr(service.replicate_backend)


def test_constructor_has_the_old_plugins_parameters_and_defaults() -> None:
    parameters = inspect.signature(ReplicateImageGenService.__init__).parameters
    seed = {
        "aiohttp_session": inspect.Parameter.empty,  # required
        "api_token": None,
        "settings": None,
        "base_url": None,  # the seed said https://api.replicate.com/v1; see docs/replicate.md
        "wait_timeout_secs": 5,  # the seed said 60; see docs/replicate.md
        "poll_interval_secs": 0.5,
        "max_poll_attempts": 120,
    }
    assert {name: parameters[name].default for name in seed} == seed


def test_omitted_parameters_give_the_old_plugins_behaviour(
    monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession
) -> None:
    monkeypatch.delenv(BASE_URL_ENV_VAR, raising=False)
    settings = ReplicateImageGenService(aiohttp_session=session).replicate_backend.settings
    assert settings.api_token is None  # REPLICATE_API_TOKEN is read when a prompt arrives
    assert settings.resolve_base_url() == "https://api.replicate.com/v1"
    assert (settings.wait_seconds, settings.poll_interval, settings.max_polls) == (5, 0.5, 120)


def test_backend_settings_reach_the_backend(session: aiohttp.ClientSession) -> None:
    service = ReplicateImageGenService(
        aiohttp_session=session,
        poll_interval_secs=0.25,
        backend_settings={"timeout": 45, "cleanup_timeout": 2, "max_attempts": 2},
    )
    settings = service.replicate_backend.settings
    assert (settings.timeout, settings.cleanup_timeout, settings.max_attempts) == (45, 2, 2)
    assert settings.poll_interval == 0.25


@pytest.mark.parametrize(
    ("field", "instead"),
    [
        ("api_token", "api_token"),
        ("wait_seconds", "wait_timeout_secs"),
        ("max_polls", "max_poll_attempts"),
        ("model", "Settings.model"),
    ],
)
def test_backend_settings_that_have_a_parameter_are_refused(
    field: str, instead: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ImageGenError) as caught:
        ReplicateImageGenService(aiohttp_session=session, backend_settings={field: "x"})
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert f"{field!r} (use {instead})" in caught.value.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"wait_timeout_secs": 0}, "wait_seconds"),
        ({"wait_timeout_secs": 61}, "wait_seconds"),
        ({"settings": Settings(num_outputs=5)}, "num_images"),
        ({"settings": Settings(aspect_ratio="7:5")}, "aspect_ratio"),
        ({"settings": Settings(model="not a model")}, "deployments/owner/name"),
        # Wrong types are named, never a bare TypeError or AttributeError.
        ({"settings": Settings(num_outputs="2")}, "num_outputs must be int, not str"),  # type: ignore[arg-type]
        ({"settings": Settings(num_inference_steps="4")}, "num_inference_steps must be int"),  # type: ignore[arg-type]
        ({"settings": Settings(output_format=3)}, "output_format must be str, not int"),  # type: ignore[arg-type]
        ({"settings": Settings(model=5)}, "model must be str, not int"),  # type: ignore[arg-type]
        ({"settings": Settings(go_fast="yes")}, "go_fast must be bool, not str"),  # type: ignore[arg-type]
        ({"settings": Settings(megapixels=1)}, "megapixels must be str, not int"),  # type: ignore[arg-type]
        ({"poll_interval_secs": "fast"}, "poll_interval"),
        ({"api_token": 42}, "api_token must be a string, not int"),
        ({"backend_settings": 5}, "backend_settings must be a mapping"),
    ],
)
def test_invalid_settings_fail_at_construction(
    kwargs: dict[str, Any], field: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ImageGenError) as caught:
        ReplicateImageGenService(aiohttp_session=session, **kwargs)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert field in caught.value.message


def test_an_output_format_the_model_lacks_is_refused_at_construction(
    session: aiohttp.ClientSession,
) -> None:
    with pytest.raises(ImageGenError) as caught:
        ReplicateImageGenService(aiohttp_session=session, settings=Settings(output_format="gif"))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "output_format 'gif' is not offered" in caught.value.message
    assert "jpeg, png, webp" in caught.value.message
    # A model the backend has no profile of judges its own formats, as before.
    service = ReplicateImageGenService(
        aiohttp_session=session, settings=Settings(model="someone/sdxl", output_format="gif")
    )
    assert service.build_request("x", service._settings).options["output_format"] == "gif"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"output_format": "gif"}, "output_format 'gif' is not offered"),
        ({"num_outputs": "2"}, "num_outputs must be int, not str"),
        ({"num_outputs": 5}, "at most 4"),
        ({"aspect_ratio": "7:5"}, "aspect_ratio '7:5' is not offered"),
        ({"model": 5}, "model must be str, not int"),
    ],
)
@pytest.mark.parametrize("frame_kind", ["delta", "mapping"])
async def test_a_bad_update_is_refused_by_name_and_the_old_settings_kept(
    values: dict[str, Any], message: str, frame_kind: str
) -> None:
    from pipecat.frames.frames import ServiceUpdateSettingsFrame

    async with ReplicateEmulator() as emulator, aiohttp.ClientSession() as session:
        service = small_images_from(emulator, session)
        update: Frame = (
            ImageGenUpdateSettingsFrame(delta=Settings(**values))
            if frame_kind == "delta"
            else ServiceUpdateSettingsFrame(settings=values, service=service)
        )
        down, up = await run(service, [update, TextFrame("after")])
        [error] = errors(up)
        assert "invalid_request: settings update refused" in error.error
        assert message in error.error
        assert not error.fatal
        if hasattr(error, "category"):
            assert error.category.name == "APPLICATION"
        [prediction] = emulator.predictions.values()
        assert prediction.input["output_format"] == "webp"
        assert prediction.input["num_outputs"] == 1
        assert prediction.input["aspect_ratio"] == "1:1"
        assert len(images(down)) == 1


def small_images_from(
    emulator: ReplicateEmulator, session: aiohttp.ClientSession
) -> ReplicateImageGenService:
    """The service on ``emulator``, making 0.25-megapixel images."""
    return ReplicateImageGenService(
        aiohttp_session=session,
        api_token=emulator.api_token,
        base_url=emulator.base_url,
        settings=Settings(megapixels="0.25"),
    )


def test_flux_settings_become_checked_request_fields(session: aiohttp.ClientSession) -> None:
    service = ReplicateImageGenService(
        aiohttp_session=session,
        settings=Settings(num_outputs=3, seed=9, output_format="jpg", output_quality=50),
    )
    request = service.build_request("a fox", service._settings)
    assert (request.num_images, request.seed, request.output_format, request.quality) == (
        3,
        9,
        OutputFormat.JPEG,
        50,
    )
    assert request.options == {
        "num_inference_steps": 4,
        "disable_safety_checker": False,
        "go_fast": True,
        "megapixels": "1",
    }


def test_other_models_get_the_old_plugins_inputs_passed_through(
    session: aiohttp.ClientSession,
) -> None:
    service = ReplicateImageGenService(
        aiohttp_session=session,
        settings=Settings(model="someone/sdxl", num_outputs=2, megapixels=None),
    )
    request = service.build_request("a fox", service._settings)
    assert (request.num_images, request.output_format, request.quality) == (1, None, None)
    assert request.options == {
        "num_inference_steps": 4,
        "disable_safety_checker": False,
        "go_fast": True,
        "num_outputs": 2,
        "output_format": "webp",
        "output_quality": 80,
    }


async def test_runtime_settings_update_changes_the_next_prediction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with ReplicateEmulator() as emulator, aiohttp.ClientSession() as session:
        service = small_images_from(emulator, session)
        update = ImageGenUpdateSettingsFrame(
            delta=Settings(model=f"deployments/{DEFAULT_DEPLOYMENT}", aspect_ratio="16:9", seed=3)
        )
        down, up = await run(service, [TextFrame("before"), update, TextFrame("after")])
        assert errors(up) == []
        before, after = images(down)
        assert before.size == (512, 512)
        assert after.size == (672, 384)  # 16:9 at 0.25 megapixels
        first, second = emulator.predictions.values()
        assert first.route is Route.MODELS_PREDICTIONS_CREATE
        assert second.route is Route.DEPLOYMENTS_PREDICTIONS_CREATE
        assert (second.input["aspect_ratio"], second.input["seed"]) == ("16:9", 3)
        assert service.replicate_backend.settings.model == f"deployments/{DEFAULT_DEPLOYMENT}"
        assert not session.closed  # the caller's session outlives the pipeline


async def test_interruption_cancels_the_prediction_on_replicate() -> None:
    async with ReplicateEmulator() as emulator, aiohttp.ClientSession() as session:
        emulator.max_sync_wait = 0.01
        emulator.latency = Latency(predict=30.0)
        service = ReplicateImageGenService(
            aiohttp_session=session,
            api_token=emulator.api_token,
            base_url=emulator.base_url,
            wait_timeout_secs=1,
            poll_interval_secs=0.02,
        )
        frames = [TextFrame("never finished"), pause(0.2), InterruptionFrame(), pause(0.1)]
        down, up = await run(service, frames)
        assert images(down) == []
        assert errors(up) == []
        assert emulator.counters.predictions_created == 1
        assert emulator.counters.cancels_received == 1
        assert emulator.counters.predictions_running == 0


async def test_rejected_token_is_an_error_frame_without_the_token() -> None:
    token = "r8_WrongTokenForTheErrorFrameTest0042"
    async with ReplicateEmulator() as emulator, aiohttp.ClientSession() as session:
        service = ReplicateImageGenService(
            aiohttp_session=session, api_token=token, base_url=emulator.base_url
        )
        down, up = await run(service, [TextFrame("x")])
    [error] = errors(up)
    assert "authentication" in error.error
    assert token not in error.error
    # The hint survives Pipecat's own redaction of "name: value" pairs intact.
    assert "check the API token, set by api_token or REPLICATE_API_TOKEN" in error.error
    assert images(down) == []


async def test_missing_token_is_an_error_frame_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    async with ReplicateEmulator() as emulator, aiohttp.ClientSession() as session:
        service = ReplicateImageGenService(aiohttp_session=session, base_url=emulator.base_url)
        down, up = await run(service, [TextFrame("x")])
        assert emulator.counters.total_requests == 0
    [error] = errors(up)
    assert "no Replicate API token was given; set the api_token setting or" in error.error
    assert images(down) == []


def reply_with_outputs(*outputs: str) -> Fault:
    """A create reply, already succeeded, listing ``outputs`` (a hostile or broken provider)."""
    body = {"id": "hostile1", "status": "succeeded", "output": list(outputs), "urls": {}}
    return Fault.malformed_reply(json.dumps(body), route=Route.MODELS_PREDICTIONS_CREATE)


async def test_a_reply_is_bounded_to_what_was_asked_and_links_stay_out_of_the_network() -> None:
    async with ReplicateEmulator() as emulator, aiohttp.ClientSession() as session:
        # The first prompt makes a real file on the emulator, on the API's own host.
        down, up = await run(small_images_from(emulator, session), [TextFrame("a real one")])
        [real] = images(down)
        assert real.url.startswith(emulator.base_url.removesuffix("/v1"))
        emulator.script(reply_with_outputs(real.url, *[real.url] * 299))
        emulator.script(reply_with_outputs("http://169.254.169.254/latest/meta-data/iam"))
        service = small_images_from(emulator, session)
        down, up = await run(service, [TextFrame("one, please"), TextFrame("metadata")])
    assert len(images(down)) == 1, "300 outputs listed, 1 image asked"
    [error] = errors(up)
    assert "refused to download http://169.254.169.254/latest/meta-data/iam" in error.error
    assert "its host is a link-local address" in error.error
    assert not error.fatal


async def test_allow_private_urls_lets_links_into_the_network() -> None:
    async with ReplicateEmulator() as emulator, aiohttp.ClientSession() as session:
        service = ReplicateImageGenService(
            aiohttp_session=session,
            api_token=emulator.api_token,
            base_url=emulator.base_url,
            backend_settings={"allow_private_urls": True},
        )
        assert service.backend.address_policy().allow_private
        default = small_images_from(emulator, session)
        assert not default.backend.address_policy().allow_private
        assert default.backend.address_policy().trusted_hosts == {"127.0.0.1"}


async def test_interruption_during_the_create_cancels_the_prediction() -> None:
    # Issue 9, point 1, through the service with its default sync wait: the
    # create is held (Prefer: wait) and only its reply carries the id to cancel.
    async with ReplicateEmulator() as emulator:
        emulator.latency = Latency(predict=30.0)
        async with aiohttp.ClientSession() as session:
            service = ReplicateImageGenService(
                aiohttp_session=session, api_token=emulator.api_token, base_url=emulator.base_url
            )
            frames = [TextFrame("interrupted at once"), pause(0.3), InterruptionFrame(), pause(0.1)]
            down, up = await run(service, frames)
        # The app's session is closed now: the cancel had to be sent before.
        assert images(down) == []
        assert errors(up) == []
        assert emulator.counters.predictions_created == 1
        assert emulator.counters.cancels_received == 1
        assert emulator.counters.predictions_running == 0


def _polling_service(
    emulator: ReplicateEmulator, session: aiohttp.ClientSession
) -> ReplicateImageGenService:
    """A service that polls its predictions quickly on ``emulator``."""
    return ReplicateImageGenService(
        aiohttp_session=session,
        api_token=emulator.api_token,
        base_url=emulator.base_url,
        poll_interval_secs=0.02,
    )


@dataclass
class _AfterInterruption(DataFrame):
    """A frame the app sends right after an interruption; it only passes through."""


class _Watch(FrameProcessor):  # type: ignore[misc]  # Pipecat is untyped to mypy here
    """Notes how many predictions were running when the marker frame came through."""

    def __init__(self, emulator: ReplicateEmulator) -> None:
        super().__init__()
        self._emulator = emulator
        self.running_when_marker_passed: int | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, _AfterInterruption):
            self.running_when_marker_passed = self._emulator.counters.predictions_running
        await self.push_frame(frame, direction)


async def test_frames_after_an_interruption_do_not_wait_for_a_slow_cancel() -> None:
    # Every frame behind an interruption waits until the service has handled
    # it: a remote cancel that takes Replicate a while must not hold them (in
    # a voice bot they are the next turn's). The cancel takes 0.7 s here,
    # less than the second newer Pipecat waits for a cancelled task before
    # giving up on it, so a service that waited for the cancel lets the
    # marker through only after the cancel took effect. This one lets it
    # through at once, and the cancel still takes effect.
    async with ReplicateEmulator() as emulator:
        emulator.max_sync_wait = 0.01
        emulator.latency = Latency(predict=30.0)
        emulator.script(Fault.slow_cancel(0.7))
        watch = _Watch(emulator)
        async with aiohttp.ClientSession() as session:
            service = _polling_service(emulator, session)
            frames = [
                TextFrame("interrupted"),
                pause(0.3),
                InterruptionFrame(),
                _AfterInterruption(),
            ]
            down, up = await run(Pipeline([service, watch]), [*frames, pause(0.05)])
        assert errors(up) == []
        assert images(down) == []
        assert watch.running_when_marker_passed == 1  # not cancelled yet: nobody waited for it
        assert emulator.counters.cancels_received == 1
        assert emulator.counters.cancels_abandoned == 0
        assert emulator.counters.predictions_running == 0  # the pipeline's end waited for it


@pytest.mark.parametrize("end", ["CancelFrame", "interruption then EndFrame"])
async def test_a_slow_cancel_still_reaches_replicate_when_the_pipeline_ends(end: str) -> None:
    # Issue 9, point 2: the cancel takes 2 s to take effect, longer than
    # Pipecat waits for a cancelled task; the pipeline's end, and the app
    # closing its session right after, must not abort it.
    async with ReplicateEmulator() as emulator:
        emulator.max_sync_wait = 0.01
        emulator.latency = Latency(predict=30.0)
        emulator.script(Fault.slow_cancel(2.0))
        async with aiohttp.ClientSession() as session:
            service = _polling_service(emulator, session)
            frames: list[Frame] = [TextFrame("never finished"), pause(0.3)]
            if end == "CancelFrame":
                frames.append(CancelFrame())
            else:
                frames += [InterruptionFrame(), pause(0.05)]
            await run(service, frames, send_end_frame=end != "CancelFrame")
        assert emulator.counters.cancels_received == 1
        assert emulator.counters.cancels_abandoned == 0
        assert emulator.counters.predictions_running == 0
