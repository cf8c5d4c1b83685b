"""The Replicate backend: one prediction per request, images yielded as they land.

The life of a generation:

1. Resolve the token (setting, else ``REPLICATE_API_TOKEN``); without one,
   fail with ``authentication`` before any request.
2. Learn where the model takes images: a request with input images (or a
   mask), and any generation of a model the backend has no profile for, reads
   the model version's OpenAPI schema once (``_schema``; cached per model
   reference, so per version for pinned ones); the ``input_names`` setting
   replaces it. Images the model's inputs cannot hold are refused here, and
   the images are then placed inline, as links or as uploads (``_uploads``),
   under the names the schema gives.
3. Create the prediction in sync mode (``Prefer: wait=N``, 5 s by default:
   fast models answer in that one request) with a ``Cancel-After``
   deadline, so Replicate itself stops it if we disappear.
4. While the prediction is ``starting`` or ``processing``, poll its
   ``urls.get`` link on the adaptive schedule of :class:`PollSchedule`
   (short waits while it processes, longer ones while it is queued or
   booting) until the ``timeout``. The timeout is a deadline for every
   request of the generation, retries included: a create still being
   throttled, or a poll still being retried, is cut short when it passes.
   Every reply is read into a typed prediction where it arrives (see
   ``_wire``): one that is not what the API documents (not JSON, no id, an
   unknown status, an output that is not files...) ends the generation with a
   ``server`` error that is not retried. Each reply's output files are checked
   against those already yielded, and each new file is yielded at once.
   A sync reply can arrive still ``processing`` but already holding
   every file (often as ``data:`` URLs); then there is nothing left to wait
   for and the generation ends without polling.
   Every reply is also read for progress (``_progress``: the status, and tqdm
   lines in ``logs``), yielded as :class:`~imagegen_core.GenerationProgress`
   when it changed. For a model whose output is an iterator, the files shown
   before success are previews: yielded inside progress events, never as
   images; on success the last files are the results.
5. On ``succeeded``, report fewer images than asked as a warning and none as
   an error; ``failed``, ``canceled``, ``aborted`` and ``data_removed`` become
   :class:`~imagegen_core.ImageGenError` with what Replicate said. Uploaded
   input files are deleted once the prediction has ended, however it ended.

If the driving task is cancelled (a Pipecat interruption) or the consumer
stops iterating while the prediction still runs, the cancellation finishes at
once and ``POST /predictions/{id}/cancel`` (then deleting any uploaded
inputs) runs in the background, bounded by ``cleanup_timeout``
(:func:`imagegen_core.cleanup_in_background`): the interrupted pipeline
carries on without waiting for Replicate to answer (a slow cancel would
otherwise hold every frame behind the interruption). A cancellation that
lands while the create request is still held in sync mode does the same
after the create's reply, which is the only way to learn the prediction's id
(the short sync wait bounds it). A generation that *fails* while the
prediction runs cancels it before raising (:func:`imagegen_core.finish_cleanup`),
so the error is reported with the remote work already stopped.
:meth:`ReplicateBackend.aclose` waits for the clean-ups in flight before
closing the session.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from functools import partial
from typing import Any, ClassVar, TypeVar

import aiohttp

from imagegen_core import (
    MAX_INPUT_IMAGES,
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    GenerationProgress,
    GenerationWarning,
    ImageBackend,
    ImageGenError,
    ImageRequest,
    cleanup_in_background,
    finish_cleanup,
)
from imagegen_core.http import SessionOwner
from imagegen_replicate._inputs import build_inputs, expected_outputs
from imagegen_replicate._models import KNOWN_MODELS, profile_for
from imagegen_replicate._outputs import OutputFile, UnexpectedOutput, to_generated_image
from imagegen_replicate._polling import PollSchedule
from imagegen_replicate._progress import ProgressReader
from imagegen_replicate._schema import ImageInputs, ModelSchema
from imagegen_replicate._settings import TOKEN_ENV_VAR, ReplicateSettings
from imagegen_replicate._transport import ReplicateTransport
from imagegen_replicate._uploads import StagedFiles, check_placement
from imagegen_replicate._wire import Prediction

__all__ = ["ReplicateBackend"]

_log = logging.getLogger("imagegen.replicate")

T = TypeVar("T")
_Item = GeneratedImage | GenerationWarning | GenerationProgress

_CONTENT_POLICY = re.compile(r"nsfw|safety|content polic|inappropriate|flagged", re.IGNORECASE)


class ReplicateBackend(ImageBackend[ReplicateSettings]):
    """Image generation on Replicate (flux-schnell by default).

    Args:
        settings: :class:`ReplicateSettings`, or a mapping of its fields.
        session: An aiohttp session to send requests with. It stays the
            caller's: the backend never closes it. Without one the backend
            opens its own on first use and closes it in :meth:`aclose`.

    Raises:
        ImageGenError: ``invalid_request`` when the settings do not validate.
    """

    name: ClassVar[str] = "replicate"
    settings_model: ClassVar[type[BackendSettings]] = ReplicateSettings

    def __init__(
        self,
        settings: ReplicateSettings | Mapping[str, Any] | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(settings)
        self._sessions = SessionOwner(session, user="the Replicate backend")
        self._schemas: dict[str, ModelSchema] = {}

    @property
    def capabilities(self) -> Capabilities:
        """What the configured model honours (flux-schnell: up to 4 images, 11 ratios...).

        In order: the ``capabilities`` setting; the model's schema, once read;
        the backend's profile of a known model; for any other model, a
        conservative text-to-image profile until its schema is read (by
        :meth:`resolve_capabilities` or its first generation). An input image
        is therefore refused for an unknown model whose schema has not been
        read, rather than sent to a model that may ignore it.
        """
        ref = self.settings.model_ref
        return profile_for(
            ref, self.settings.capabilities, self._schemas.get(str(ref))
        ).capabilities

    async def resolve_capabilities(self) -> Capabilities:
        """Read the configured model's schema now, and return the capabilities it gives.

        One or two ``GET`` requests, cached, after which :attr:`capabilities`
        reflects the schema.

        Call it at start-up for a model the backend has no profile for, so that
        its first request can already carry input images.

        Raises:
            ImageGenError: No token, or the schema cannot be read (a bare
                version id, an unknown model, a reply without a schema).
        """
        settings = self.settings
        transport = self._transport(settings)
        ref = settings.model_ref
        self._schemas[str(ref)] = await transport.model_schema(ref)
        return self.capabilities

    def secret_values(self) -> Iterable[str]:
        """The token from the settings and, when set, the one in ``REPLICATE_API_TOKEN``."""
        yield from super().secret_values()
        from_env = self.settings.resolve_token() if self.settings.api_token is None else None
        if from_env is not None:
            yield from_env.get_secret_value()

    async def _aclose(self) -> None:
        await self._sessions.aclose()

    # -- generation -------------------------------------------------------------

    def _generate(self, request: ImageRequest) -> AsyncIterator[_Item]:
        # The run's generator, handed over as it is: a generator here that
        # only re-yielded its items would pass each one through a level more,
        # about 15 event-loop calls per image (benchmarks/profile_loop.py).
        return _Run(self, request).items()

    def _transport(self, settings: ReplicateSettings) -> ReplicateTransport:
        token = settings.resolve_token()  # a SecretStr: this frame is in every error's traceback
        if token is None:
            raise ImageGenError(
                f"no Replicate API token was given; set the api_token setting or {TOKEN_ENV_VAR}",
                kind=ErrorKind.AUTHENTICATION,
                retryable=False,
            )
        try:
            base_url = settings.resolve_base_url()
        except ValueError as exc:
            raise ImageGenError(str(exc), kind=ErrorKind.INVALID_REQUEST) from None
        return ReplicateTransport(self._sessions.get(), settings, base_url, token)

    async def _schema_for(
        self, transport: ReplicateTransport, settings: ReplicateSettings, request: ImageRequest
    ) -> ModelSchema | None:
        """The model's schema, read when this generation needs it (and cached).

        A request with images needs it for the input names (unless the
        ``input_names`` setting gives them): failing to read it fails the
        generation. A model the backend has no profile for reads it to learn
        its real capabilities and output shape; for a text-only request a
        schema that cannot be read only means the generic profile is kept.
        """
        ref = settings.model_ref
        cached = self._schemas.get(str(ref))
        if cached is not None:
            return cached
        needs_names = bool(request.images or request.mask) and settings.input_names is None
        known = ref.kind != "deployment" and (ref.model_name or "") in KNOWN_MODELS
        if not needs_names and (known or settings.capabilities is not None):
            return None
        try:
            schema = await transport.model_schema(ref)
        except ImageGenError as exc:
            if needs_names:
                raise
            _log.info("could not read the schema of %s (%s); using its declared profile", ref, exc)
            return None
        self._schemas[str(ref)] = schema
        return schema


def _recheck(
    request: ImageRequest, checked: Capabilities, current: Capabilities, backend: str
) -> list[GenerationWarning]:
    """What the capabilities read from a schema just now say that the first check did not.

    ``generate()`` checked the request against the capabilities known then;
    for a model met for the first time those are the generic ones. If the
    schema read since tells otherwise, a setting the model cannot honour
    becomes a warning here (it is not sent: never a silent drop), and a value
    it does not offer an ``invalid_request`` error, before the create.
    """
    if current == checked:
        return []
    already = {warning.setting for warning in checked.check(request, backend=backend)}
    return [w for w in current.check(request, backend=backend) if w.setting not in already]


def _placement(settings: ReplicateSettings, schema: ModelSchema | None) -> ImageInputs | None:
    """Where the images go: the ``input_names`` setting, else what the schema says."""
    names = settings.input_names
    if names is not None:
        limit = MAX_INPUT_IMAGES if names.images_are_list else 1
        return ImageInputs(
            (names.images,), many=names.images_are_list, limit=limit, mask=names.mask
        )
    return schema.image_inputs if schema is not None else None


class _Run:
    """One generation: its checks against the model, then one prediction to its last image.

    Built when the generation is first iterated (``_generate`` hands over
    :meth:`items`), so the settings it snapshots are those of that moment.
    """

    def __init__(self, backend: ReplicateBackend, request: ImageRequest) -> None:
        self.backend = backend
        self.request = request
        self.settings = settings = backend.settings  # one snapshot for the whole generation
        self.transport = backend._transport(settings)
        self.ref = settings.model_ref
        self.output_format: str | None = None
        """The ``output_format`` input sent, for naming the outputs' media type."""
        self.previews = False
        """The output is an iterator: files shown before success are previews."""
        self.staged = StagedFiles(self.transport, settings.max_data_url_bytes)
        self.prediction: Prediction | None = None
        self.finished = False
        self.cleaning_up_in_background = False
        """Cancelled: a background clean-up cancels the prediction, then deletes uploads."""
        self.deadline = 0.0

    async def items(self) -> AsyncGenerator[_Item, None]:
        """Check the request against the model, upload the inputs, create, follow; clean up.

        One generator for the whole run, not one per stage: every item passes
        through each generator it is nested in, and each level cost the loop
        about 15 calls per image (benchmarks/profile_loop.py).
        """
        backend, request, settings = self.backend, self.request, self.settings
        transport = self.transport
        checked = backend.capabilities  # what generate() checked the request against
        schema = await backend._schema_for(transport, settings, request)
        profile = profile_for(self.ref, settings.capabilities, schema)
        placement = _placement(settings, schema)
        check_placement(request, placement, str(self.ref))
        for warning in _recheck(request, checked, profile.capabilities, backend.name):
            yield warning
        inputs = build_inputs(request, defaults=settings.inputs, profile=profile)
        expected = expected_outputs(inputs, request)
        output_format = inputs.get("output_format")
        self.output_format = output_format if isinstance(output_format, str) else None
        self.previews = schema is not None and schema.iterator_output
        self.deadline = asyncio.get_running_loop().time() + settings.timeout
        try:
            if placement is not None and (request.images or request.mask is not None):
                placed = await self._before_deadline(
                    self.staged.place(request, placement),
                    partial(self._timeout_error, "uploading the input images did not finish"),
                )
                inputs = {**inputs, **placed}
            wait_seconds = max(1, min(settings.wait_seconds, math.ceil(settings.timeout)))
            self.prediction = await self._create(inputs, wait_seconds)
            try:
                async with aclosing(self._follow(expected)) as follow:
                    async for item in follow:
                        yield item
            except (asyncio.CancelledError, GeneratorExit):
                # Interrupted, or the consumer stopped iterating: stop paying
                # for it, without making the interrupted caller wait for Replicate.
                self._cancel_in_background()
                raise
            except ImageGenError:
                await self._cancel_remote("failed")
                raise
        finally:
            if self.staged.uploaded and not self.cleaning_up_in_background:
                # After the prediction ended (or was cancelled): the model
                # reads its inputs when it starts, so deleting sooner would fail it.
                await finish_cleanup(
                    self.staged.delete_all(),
                    timeout=settings.cleanup_timeout,
                    what="deleting the uploaded input images",
                )

    async def _before_deadline(
        self, step: Awaitable[T], on_timeout: Callable[[], ImageGenError]
    ) -> T:
        """Await one step (a request and its retries), cut short at the deadline.

        Only steps are bounded this way, never the generator's yields: a
        deadline spanning a yield would fire inside the consumer's code.
        """
        timeout = asyncio.timeout_at(self.deadline)
        try:
            async with timeout:
                return await step
        except TimeoutError:
            if not timeout.expired():
                raise
            raise on_timeout() from None

    async def _create(self, inputs: Mapping[str, Any], wait_seconds: int) -> Prediction:
        """Create the prediction, waiting for it no later than the deadline.

        The sync-mode create holds the only copy of the id until its reply, so
        it runs in a task of its own that neither the caller's cancellation
        nor the deadline cuts short: either lets it finish in the background
        (without retrying; the sync wait bounds it), then cancels what it
        made. The caller's cancellation finishes now; closing the backend
        waits for the clean-up. One future woken by the task or by a timer
        does what ``asyncio.shield`` inside ``asyncio.timeout_at`` did, for
        about half the event loop's calls (benchmarks/profile_loop.py).
        """
        loop = asyncio.get_running_loop()
        abandon = asyncio.Event()
        create = loop.create_task(
            self.transport.create(self.ref, inputs, wait_seconds=wait_seconds, abandon=abandon)
        )
        woken = loop.create_future()

        def wake(_: object = None) -> None:
            if not woken.done():
                woken.set_result(None)

        create.add_done_callback(wake)
        timer = loop.call_at(self.deadline, wake)
        try:
            await woken
        except asyncio.CancelledError:
            self._abandon_create(create, abandon, wait_seconds)
            raise
        finally:
            timer.cancel()  # a create abandoned later finds `woken` done: wake() does nothing
        if create.done():
            return create.result()
        self._abandon_create(create, abandon, wait_seconds)
        raise self._timeout_error("the request creating the prediction did not finish")

    def _abandon_create(
        self, create: asyncio.Task[Prediction], abandon: asyncio.Event, wait_seconds: int
    ) -> None:
        """Leave the create to finish in the background, then cancel what it made."""
        abandon.set()
        self.finished = self.cleaning_up_in_background = True
        cleanup_in_background(
            self._cancel_once_created(create),
            # The create's reply, the cancel, then deleting any uploads.
            timeout=wait_seconds + 2 * self.settings.cleanup_timeout,
            what="cancelling the Replicate prediction being created",
        )

    async def _cancel_once_created(self, create: asyncio.Future[Prediction]) -> None:
        try:
            prediction = await create
        except ImageGenError:
            prediction = None  # nothing was created (or nothing we can tell the id of)
        if prediction is not None and prediction.running:
            self.prediction = prediction
            _log.info("cancelling prediction %s (interrupted while creating it)", prediction.id)
        await self._cancel_then_delete(prediction)

    def _cancel_in_background(self) -> None:
        """Cancel the prediction if it runs, then delete its uploads, in a clean-up of its own."""
        prediction = self.prediction
        running = not self.finished and prediction is not None and prediction.running
        if not running and not self.staged.uploaded:
            return
        self.finished = self.cleaning_up_in_background = True
        if running and prediction is not None:
            _log.info("cancelling prediction %s (interrupted)", prediction.id)
        cleanup_in_background(
            self._cancel_then_delete(prediction if running else None),
            # The cancel, then deleting any uploads, each bounded alike.
            timeout=2 * self.settings.cleanup_timeout,
            what="cancelling the interrupted Replicate prediction",
        )

    async def _cancel_then_delete(self, prediction: Prediction | None) -> None:
        """Cancel ``prediction`` when it still runs, then delete the uploaded inputs."""
        try:
            if prediction is not None and prediction.running:
                await self.transport.cancel(prediction)
        finally:
            # Only now: a prediction still starting reads its inputs, and
            # deleting them under it would fail it rather than cancel it.
            if self.staged.uploaded:
                await self.staged.delete_all()

    async def _cancel_remote(self, why: str) -> None:
        prediction = self.prediction
        if self.finished or prediction is None or not prediction.running:
            return
        self.finished = True
        _log.info("cancelling prediction %s (%s)", prediction.id, why)
        await finish_cleanup(
            self.transport.cancel(prediction),
            timeout=self.settings.cleanup_timeout,
            what=f"cancelling Replicate prediction {prediction.id}",
        )

    async def _follow(self, expected: int) -> AsyncGenerator[_Item, None]:
        """The prediction's items, reading each reply in turn: the create's, then each poll's.

        This is the one place every reply passes through, in order, so what
        is read from each (its files, its status, its ``logs``) is read here.
        A poll is made only once a reply has been read and the prediction is
        not done, after waiting as :class:`PollSchedule` says.
        """
        yielded: set[int] = set()
        previewed: set[int] = set()
        progress = ProgressReader()
        schedule = PollSchedule(self.settings)
        polls = 0
        prediction = self._current()
        while True:
            if prediction.data_removed:
                raise self._data_removed()
            report = progress.read(prediction.status, prediction.logs)
            if report is not None:
                yield report
            files = prediction.files
            metadata = self._metadata(prediction)
            if self.previews:
                previews = self._previews_or_results(
                    prediction, previewed, expected, progress.fraction
                )
                async with aclosing(previews):
                    async for item in previews:
                        if isinstance(item, GeneratedImage):
                            yielded.add(item.index)
                        yield item
                files = ()  # nothing below counts an iterator's files as results
            for file in files:
                if file.index in yielded:
                    continue
                yielded.add(file.index)
                yield await self._fetch(file, metadata)
            if prediction.status == "succeeded":
                self.finished = True
                break
            if not prediction.running:
                self.finished = True
                raise self._failure(prediction)
            if files and len(yielded) >= expected:
                # A sync reply may carry every file before the prediction is
                # marked done; waiting for the status would only add latency.
                self.finished = True
                break
            prediction = await self._next_reply(prediction, schedule, polls)
            polls += 1
        prediction = self._current()
        if not yielded:
            raise ImageGenError(
                f"prediction {prediction.id} succeeded but returned no images",
                kind=ErrorKind.CONTENT_POLICY,
                retryable=False,
            )
        if len(yielded) < expected:
            yield GenerationWarning(
                f"Replicate returned {len(yielded)} of {expected} images asked for "
                "(models drop outputs their safety checker flags)"
            )

    async def _previews_or_results(
        self, prediction: Prediction, previewed: set[int], expected: int, fraction: float | None
    ) -> AsyncGenerator[_Item, None]:
        """An iterator model's files: previews while it runs, the last ``expected`` on success.

        A preview carries the fraction the same reply's logs reported, if any.
        On success the results are numbered from 0, as for any other model.
        """
        metadata = self._metadata(prediction)
        files = prediction.files
        if prediction.status == "succeeded":
            for index, file in enumerate(files[-expected:]):
                image = await self._fetch(file, metadata)
                yield GeneratedImage(
                    data=image.data,
                    url=image.url,
                    media_type=image.media_type,
                    index=index,
                    metadata=metadata,
                )
            return
        for file in files:
            if file.index in previewed:
                continue
            previewed.add(file.index)
            preview = await self._fetch(file, {**metadata, "preview": True})
            yield GenerationProgress(
                fraction=fraction, message=f"preview {len(previewed)}", preview=preview
            )

    async def _fetch(self, file: OutputFile, metadata: Mapping[str, Any]) -> GeneratedImage:
        if not self.settings.download_outputs:
            # Only read from the reply, no request: nothing the deadline could
            # cut short, and a timer per image less (benchmarks/profile_loop.py).
            return self._read_image(file, metadata)
        return await self._before_deadline(
            self._image(file, metadata),
            partial(self._timeout_error, f"downloading output {file.index} did not finish"),
        )

    async def _next_reply(
        self, prediction: Prediction, schedule: PollSchedule, polls: int
    ) -> Prediction:
        """The next reply: after the wait :class:`PollSchedule` says, one status poll.

        Raises the time-out error when the deadline or ``max_polls`` leaves no poll.
        """
        settings = self.settings
        remaining = self.deadline - asyncio.get_running_loop().time()
        if remaining <= 0 or (settings.max_polls is not None and polls >= settings.max_polls):
            raise self._timed_out(prediction, polls)
        await asyncio.sleep(min(schedule.wait_after(prediction), remaining))
        self.prediction = await self._before_deadline(
            self.transport.get(prediction), partial(self._timed_out, prediction, polls)
        )
        return self.prediction

    # -- reading replies ----------------------------------------------------------

    def _current(self) -> Prediction:
        assert self.prediction is not None  # set by _create before _follow runs
        return self.prediction

    def _read_image(self, file: OutputFile, metadata: Mapping[str, Any]) -> GeneratedImage:
        """The image an output file of the reply describes (a link, or inline data)."""
        try:
            return to_generated_image(file, output_format=self.output_format, metadata=metadata)
        except UnexpectedOutput as exc:
            raise ImageGenError(str(exc), kind=ErrorKind.SERVER) from None

    async def _image(self, file: OutputFile, metadata: Mapping[str, Any]) -> GeneratedImage:
        # Only reached with download_outputs set (_fetch reads the reply alone otherwise).
        image = self._read_image(file, metadata)
        if image.url is not None:
            data = await self.transport.download(image.url)
            return GeneratedImage(
                data=data, media_type=image.media_type, index=image.index, metadata=metadata
            )
        return image

    def _metadata(self, prediction: Prediction) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "prediction_id": prediction.id,
            "model": prediction.model or self.ref.model_name,
            "version": prediction.version or self.ref.version,
            "status": prediction.status,
            "predict_time": prediction.predict_time,
        }
        if self.ref.kind == "deployment":
            metadata["deployment"] = self.ref.model_name
        return metadata

    def _failure(self, prediction: Prediction) -> ImageGenError:
        """The error for a prediction that stopped without succeeding."""
        status = prediction.status
        detail = prediction.error if prediction.error and prediction.error.strip() else None
        if status == "failed":
            kind = ErrorKind.SERVER
            if detail is not None and _CONTENT_POLICY.search(detail):
                kind = ErrorKind.CONTENT_POLICY
            message = f"prediction {prediction.id} failed: {detail or 'Replicate gave no reason'}"
            return ImageGenError(message, kind=kind)
        if status == "aborted":
            message = (
                f"prediction {prediction.id} was aborted: its Cancel-After deadline "
                f"({self.settings.cancel_after_header()}) passed before it started"
            )
        else:
            assert status == "canceled", f"_failure called for a {status} prediction"
            message = (
                f"prediction {prediction.id} was canceled on Replicate (its Cancel-After "
                f"deadline of {self.settings.cancel_after_header()} passed, or it was "
                "canceled from outside this backend)"
            )
        if detail:
            message += f": {detail}"
        return ImageGenError(message, kind=ErrorKind.CANCELED, retryable=True)

    def _data_removed(self) -> ImageGenError:
        prediction = self._current()
        self.finished = not prediction.running
        return ImageGenError(
            f"prediction {prediction.id} is marked data_removed: Replicate removed its "
            "output before it could be read, so there is no image to return",
            kind=ErrorKind.CONTENT_POLICY,
            retryable=False,
        )

    def _timeout_error(self, what: str) -> ImageGenError:
        return ImageGenError(
            f"{what} within the {self.settings.timeout:g} s timeout",
            kind=ErrorKind.TIMEOUT,
        )

    def _timed_out(self, prediction: Prediction, polls: int) -> ImageGenError:
        settings = self.settings
        if settings.max_polls is not None and polls >= settings.max_polls:
            reason = f"after {polls} status polls (max_polls)"
        else:
            reason = f"within the {settings.timeout:g} s timeout"
        return ImageGenError(
            f"prediction {prediction.id} did not finish {reason}; it was still {prediction.status}",
            kind=ErrorKind.TIMEOUT,
        )
