"""Editing and progress in Pipecat pipelines: a test per promise of docs/editing-and-progress.md.

Runs against whichever Pipecat is installed; the nox ``compat`` session runs
it on 0.0.108, the first 1.8 and the newest release.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from loguru import logger
from PIL import Image
from pipecat.frames.frames import (
    InterruptionFrame,
    OutputImageRawFrame,
    TextFrame,
    URLImageRawFrame,
    UserImageRawFrame,
)

from imagegen_core import (
    BackendItem,
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    GenerationProgress,
    ImageBackend,
    ImageGenError,
    ImageRequest,
    ImageRole,
    InputImage,
)
from imagegen_core.pipecat import (
    BackendImageGenService,
    ImageGenEditFrame,
    ImageGenPreviewFrame,
    ImageGenProgressFrame,
    input_image_from_frame,
)
from imagegen_testing.fake import FakeBackend
from imagegen_testing.pipecat_run import error_frames as errors
from imagegen_testing.pipecat_run import image_frames as images
from imagegen_testing.pipecat_run import pause
from imagegen_testing.pipecat_run import run_service as run

Settings = BackendImageGenService.Settings

PROGRESSING = {"progress_steps": 3, "progress_previews": True, "queue_reports": 1}
"""Fake backend settings that report a queue position, fractions and previews."""


def png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def camera_frame(size: tuple[int, int] = (8, 6), colour: bytes = b"\x10\x80\xf0") -> Any:
    return UserImageRawFrame(
        user_id="user-1", image=colour * (size[0] * size[1]), size=size, format="RGB"
    )


def progress_frames(frames: list[Any]) -> list[ImageGenProgressFrame]:
    return [frame for frame in frames if isinstance(frame, ImageGenProgressFrame)]


def preview_frames(frames: list[Any]) -> list[ImageGenPreviewFrame]:
    return [frame for frame in frames if isinstance(frame, ImageGenPreviewFrame)]


def category_of(frame: Any) -> str | None:
    category = getattr(frame, "category", None)
    return None if category is None else category.name


class TextOnlyBackend(ImageBackend[BackendSettings]):
    """A backend that takes no input images: editing must be refused, never ignored."""

    name: ClassVar[str] = "text-only"
    settings_model: ClassVar[type[BackendSettings]] = BackendSettings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_images_per_call=1)

    async def _generate(self, request: ImageRequest) -> AsyncIterator[BackendItem]:
        yield GeneratedImage(data=png((2, 2), (1, 2, 3)), media_type="image/png")


class BrokenPreviewBackend(ImageBackend[BackendSettings]):
    """Streams a preview that is not an image, then a good image."""

    name: ClassVar[str] = "broken-preview"
    settings_model: ClassVar[type[BackendSettings]] = BackendSettings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_images_per_call=1)

    async def _generate(self, request: ImageRequest) -> AsyncIterator[BackendItem]:
        junk = GeneratedImage(data=b"not an image at all", media_type="image/png")
        yield GenerationProgress(fraction=0.5, preview=junk)
        yield GeneratedImage(data=png((2, 2), (7, 8, 9)), media_type="image/png")


# -- progress and previews: off by default -----------------------------------------------


async def test_by_default_a_pipeline_sees_exactly_the_frames_it_saw_before_progress() -> None:
    service = BackendImageGenService(backend=FakeBackend(PROGRESSING))
    down, up = await run(service, [TextFrame("a harbour")])
    assert [type(frame) for frame in down] == [TextFrame, URLImageRawFrame]
    assert "preview" not in images(down)[0].metadata["imagegen"]
    assert up == []


async def test_progress_frames_carry_the_providers_reports_in_order_before_the_image() -> None:
    service = BackendImageGenService(backend=FakeBackend(PROGRESSING), progress_frames=True)
    down, _ = await run(service, [TextFrame("a harbour")])
    kinds = [type(frame) for frame in down]
    assert kinds == [TextFrame, *[ImageGenProgressFrame] * 4, URLImageRawFrame]
    queued, *steps = progress_frames(down)
    assert (queued.progress.queue_position, queued.progress.fraction) == (0, None)
    assert queued.text == "queued (0 ahead) - queued"
    assert [frame.progress.percent for frame in steps] == [33, 66, 100]
    assert steps[0].text == "33% - image 1/1, step 1/3"
    assert preview_frames(down) == []


async def test_a_backend_that_reports_nothing_yields_no_progress_frames() -> None:
    service = BackendImageGenService(backend=FakeBackend(), progress_frames=True)
    down, _ = await run(service, [TextFrame("a harbour")])
    assert [type(frame) for frame in down] == [TextFrame, URLImageRawFrame]


async def test_previews_are_shown_by_transports_and_skipped_by_savers() -> None:
    service = BackendImageGenService(backend=FakeBackend(PROGRESSING), preview_frames=True)
    down, _ = await run(service, [TextFrame("a harbour")])
    previews = preview_frames(down)
    assert len(previews) == 3
    for preview in previews:
        # A transport shows every OutputImageRawFrame; a saver keeps URLImageRawFrames.
        assert isinstance(preview, OutputImageRawFrame)
        assert not isinstance(preview, URLImageRawFrame)
        assert preview.metadata["imagegen"]["preview"] is True
        assert preview.format == "RGB"
        assert len(preview.image) == preview.size[0] * preview.size[1] * 3
    assert down.index(previews[-1]) < down.index(images(down)[0])
    assert len(images(down)) == 1
    assert progress_frames(down) == []  # previews alone, as asked


async def test_a_preview_that_does_not_decode_is_dropped_and_the_image_still_arrives() -> None:
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="WARNING")
    try:
        service = BackendImageGenService(
            backend=BrokenPreviewBackend(), progress_frames=True, preview_frames=True
        )
        down, up = await run(service, [TextFrame("a harbour")])
    finally:
        logger.remove(sink)
    assert preview_frames(down) == []
    assert [frame.progress.fraction for frame in progress_frames(down)] == [0.5]
    assert images(down)[0].image == bytes((7, 8, 9)) * 4
    assert errors(up) == []


# -- conversational editing -----------------------------------------------------------


async def test_in_edit_mode_a_prompt_edits_the_last_image_the_service_produced() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, edit_last_image=True)
    down, up = await run(service, [TextFrame("a harbour"), TextFrame("now at night")])
    first, edited = images(down)
    generate, edit = backend.requests
    assert generate.images == ()
    [target] = edit.images
    assert target.role is ImageRole.EDIT
    assert target.size is not None
    assert tuple(target.size) == first.size
    # The fake derives an edit from its input: the result differs from both.
    assert edited.metadata["imagegen"]["inputs"] == [f"edit:{target.size}:" + _digest(target)]
    assert edited.image != first.image
    assert errors(up) == []


async def test_edits_chain_each_prompt_edits_the_previous_result() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, edit_last_image=True)
    frames = [TextFrame("a harbour"), TextFrame("at night"), TextFrame("with a moon")]
    down, _ = await run(service, frames)
    _, second, _ = images(down)
    third_input = backend.requests[2].images[0]
    assert third_input.data is not None
    assert Image.open(io.BytesIO(third_input.data)).convert("RGB").tobytes() == second.image


async def test_without_edit_mode_every_prompt_is_a_fresh_picture() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend)
    await run(service, [TextFrame("a harbour"), TextFrame("now at night")])
    assert [request.images for request in backend.requests] == [(), ()]


async def test_the_last_user_image_is_used_once_in_the_role_asked_for() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, user_image_role=ImageRole.REFERENCE)
    frames = [camera_frame((8, 6)), TextFrame("me as a pirate"), TextFrame("a parrot")]
    down, _ = await run(service, frames)
    with_camera, without = backend.requests
    [reference] = with_camera.images
    assert reference.role is ImageRole.REFERENCE
    assert reference.media_type == "image/png"
    assert reference.data is not None
    pixels = Image.open(io.BytesIO(reference.data)).convert("RGB").tobytes()
    assert pixels == b"\x10\x80\xf0" * 48
    assert without.images == ()
    # The camera frame itself goes on down the pipeline, untouched.
    assert sum(isinstance(frame, UserImageRawFrame) for frame in down) == 1


async def test_edit_mode_and_a_user_image_combine_last_image_first() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(
        backend=backend, edit_last_image=True, user_image_role=ImageRole.REFERENCE
    )
    # A UserImageRawFrame is a system frame: it overtakes queued prompts, so wait.
    frames = [TextFrame("a harbour"), pause(0.2), camera_frame(), TextFrame("in my style")]
    await run(service, frames)
    assert [image.role for image in backend.requests[1].images] == [
        ImageRole.EDIT,
        ImageRole.REFERENCE,
    ]


def test_editing_modes_a_backend_cannot_serve_are_refused_at_construction() -> None:
    with pytest.raises(ImageGenError, match=r"edit_last_image .* takes no input images") as info:
        BackendImageGenService(backend=TextOnlyBackend(), edit_last_image=True)
    assert info.value.kind is ErrorKind.INVALID_REQUEST
    references_only = FakeBackend({"input_roles": {"reference"}, "supports_mask": False})
    with pytest.raises(ImageGenError, match=r"user_image_role .* role 'edit'"):
        BackendImageGenService(backend=references_only, user_image_role=ImageRole.EDIT)
    BackendImageGenService(backend=references_only, user_image_role=ImageRole.REFERENCE)


# -- the explicit edit frame -----------------------------------------------------------


async def test_an_edit_frame_edits_the_last_image_with_a_mask_and_is_consumed() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, settings=Settings(size="32x16"))
    first_down, _ = await run(service, [TextFrame("a harbour")])
    mask = InputImage(data=png((32, 16), (255, 255, 255)))
    edit = ImageGenEditFrame(prompt="add a lighthouse", mask=mask, last_image=ImageRole.EDIT)
    down, up = await run(service, [edit])
    assert not any(isinstance(frame, ImageGenEditFrame) for frame in down)
    request = backend.requests[-1]
    assert request.prompt == "add a lighthouse"
    assert [image.role for image in request.images] == [ImageRole.EDIT]
    assert request.mask == mask
    [result] = images(down)
    assert result.metadata["imagegen"]["masked"] is True
    assert result.image != images(first_down)[0].image
    assert errors(up) == []


async def test_an_edit_frame_takes_given_images_and_the_user_image() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend)
    style = await input_image_from_frame(camera_frame((4, 4)), role=ImageRole.REFERENCE)
    edit = ImageGenEditFrame(prompt="me, in this style", images=[style], user_image=ImageRole.EDIT)
    down, up = await run(service, [camera_frame((8, 6)), edit])
    [request] = backend.requests
    assert [(image.role, image.size) for image in request.images] == [
        (ImageRole.REFERENCE, style.size),
        (ImageRole.EDIT, (8, 6)),
    ]
    assert len(images(down)) == 1
    assert errors(up) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (ImageGenEditFrame(prompt="edit it", last_image=ImageRole.EDIT), "not produced one"),
        (ImageGenEditFrame(prompt="me", user_image=ImageRole.EDIT), "no UserImageRawFrame"),
        (
            ImageGenEditFrame(
                prompt="masked",
                images=[InputImage(data=png((8, 8), (0, 0, 0)))],
                mask=InputImage(data=png((4, 4), (255, 255, 255))),
            ),
            "mask is 4x4",
        ),
        (
            ImageGenEditFrame(prompt="wrong", images=["a file name"]),  # type: ignore[list-item]
            "images.0",
        ),
        (ImageGenEditFrame(prompt="odd", user_image="sideways"), "role must be one of"),  # type: ignore[arg-type]
    ],
    ids=["no-last-image", "no-user-image", "mask-of-another-size", "not-an-input", "bad-role"],
)
async def test_an_edit_that_cannot_be_made_is_an_error_frame_and_the_service_serves_on(
    edit: ImageGenEditFrame, message: str
) -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend)
    down, up = await run(service, [edit, TextFrame("a harbour")])
    [error] = errors(up)
    assert message in error.error
    assert category_of(error) in (None, "APPLICATION")
    assert len(backend.requests) == 1  # only the prompt reached the backend
    assert len(images(down)) == 1


async def test_an_edit_for_a_backend_that_takes_no_images_is_refused_not_ignored() -> None:
    service = BackendImageGenService(backend=TextOnlyBackend())
    given = InputImage(data=png((4, 4), (0, 0, 0)))
    down, up = await run(service, [ImageGenEditFrame(prompt="edit", images=[given])])
    [error] = errors(up)
    assert "takes no input images" in error.error
    assert images(down) == []


async def test_an_interruption_during_an_edit_cancels_the_remote_work() -> None:
    backend = FakeBackend({"latency": 30, "cancel_latency": 0.02})
    service = BackendImageGenService(backend=backend)
    given = InputImage(data=png((4, 4), (0, 0, 0)))
    edit = ImageGenEditFrame(prompt="never finished", images=[given])
    down, up = await run(service, [edit, pause(0.1), InterruptionFrame(), pause(0.05)])
    assert (backend.jobs_started, backend.jobs_cancelled, backend.jobs_running) == (1, 1, 0)
    assert images(down) == []
    assert errors(up) == []


async def test_an_interruption_during_a_conversational_edit_cancels_the_remote_work() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, edit_last_image=True)
    await run(service, [TextFrame("a harbour")])
    backend.update_settings(latency=30, cancel_latency=0.02)
    down, _ = await run(service, [TextFrame("at night"), pause(0.1), InterruptionFrame()])
    assert backend.requests[-1].images  # it was an edit
    assert (backend.jobs_started, backend.jobs_cancelled, backend.jobs_running) == (2, 1, 0)
    assert images(down) == []


# -- frames into inputs ----------------------------------------------------------------


async def test_a_frame_becomes_a_png_input_with_its_pixels() -> None:
    image = await input_image_from_frame(camera_frame((3, 2)), role=ImageRole.REFERENCE)
    assert (image.media_type, image.size, image.role) == ("image/png", (3, 2), ImageRole.REFERENCE)
    assert image.data is not None
    assert Image.open(io.BytesIO(image.data)).tobytes() == b"\x10\x80\xf0" * 6


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (UserImageRawFrame(image=b"\x00" * 5, size=(3, 2), format="RGB"), "not a valid raw"),
        (UserImageRawFrame(image=b"\x00" * 18, size=(3, 2), format="WEBP"), "not a valid raw"),
        (UserImageRawFrame(image=b"", size=(100_000, 100_000), format="RGB"), "input limit"),
        (UserImageRawFrame(image=b"", size=(0, 2), format="RGB"), "whole pixels"),
    ],
    ids=["short", "file-format-as-mode", "gigapixel", "empty"],
)
async def test_a_frame_that_is_not_a_valid_image_is_an_invalid_request(
    frame: Any, message: str
) -> None:
    with pytest.raises(ImageGenError, match=message) as info:
        await input_image_from_frame(frame)
    assert info.value.kind is ErrorKind.INVALID_REQUEST


async def test_a_bad_user_frame_in_a_prompt_is_an_error_frame_not_a_crash() -> None:
    backend = FakeBackend()
    service = BackendImageGenService(backend=backend, user_image_role=ImageRole.REFERENCE)
    bad = UserImageRawFrame(image=b"\x00", size=(3, 2), format="RGB")
    down, up = await run(service, [bad, TextFrame("me"), TextFrame("again")])
    [error] = errors(up)
    assert "not a valid raw image" in error.error
    assert len(images(down)) == 1  # the next prompt is served


def _digest(image: InputImage) -> str:
    import hashlib

    assert image.data is not None
    return hashlib.sha256(image.data).hexdigest()[:12]
