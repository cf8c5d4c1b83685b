"""The frames the image service adds to Pipecat's: an edit request, progress, previews.

Pipecat's ``ImageGenService`` knows one frame in (``TextFrame``, a prompt) and
one out (``URLImageRawFrame``, an image). Editing and progress need three more:

- :class:`ImageGenEditFrame`, pushed by an app or an LLM tool, asks for an
  edit with the images it names; the service consumes it.
- :class:`ImageGenProgressFrame` carries a provider's progress report
  downstream, for an app to show ("drawing... 40%").
- :class:`ImageGenPreviewFrame` carries a partial render. It is an
  ``OutputImageRawFrame``, so output transports show it like any image, and
  deliberately not a ``URLImageRawFrame``, so a processor that keeps the
  service's results (it looks for ``URLImageRawFrame``) skips previews without
  knowing about them.

Both progress frames are sent only when the service is asked for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pipecat.frames.frames import DataFrame, OutputImageRawFrame

from imagegen_core._inputs import ImageRole, InputImage
from imagegen_core._progress import GenerationProgress

__all__ = ["ImageGenEditFrame", "ImageGenPreviewFrame", "ImageGenProgressFrame"]


@dataclass
class ImageGenEditFrame(DataFrame):
    """Ask the image service for an edit (or a picture from references) with given images.

    The frame is the explicit way in: an LLM tool's handler or an app pushes
    it where a ``TextFrame`` prompt would go, and the image service that
    receives it consumes it. The request's images are, in this order,
    ``images``, then this service's last image (``last_image``), then the
    last camera or screen frame it saw (``user_image``); the first one with
    the ``edit`` role is the picture edited, and the one ``mask`` applies to.
    Every other setting comes from the service's settings, as for a prompt.

    An image the frame asks for that the service does not have (no image
    produced yet, no ``UserImageRawFrame`` seen), or that the backend cannot
    take, is an ``invalid_request`` error frame; nothing is sent.

    Parameters:
        prompt: What to change, or what to draw from the references.
        images: Images to use, each with its role
            (:meth:`imagegen_core.InputImage.from_file`, or
            :func:`imagegen_core.pipecat.input_image_from_frame` for a
            Pipecat image frame).
        mask: Where to edit the first ``edit`` image: white repaints, black keeps.
        last_image: Add the last image this service produced, in this role
            (``ImageRole.EDIT`` to change it).
        user_image: Add the last ``UserImageRawFrame`` (camera or screen) the
            service saw, in this role.
    """

    prompt: str
    images: Sequence[InputImage] = ()
    mask: InputImage | None = None
    last_image: ImageRole | None = None
    user_image: ImageRole | None = None


@dataclass
class ImageGenProgressFrame(DataFrame):
    """How far the image being made has got, as the provider reported it.

    Sent downstream between a prompt and its images when the service has
    ``progress_frames=True``. A provider that reports nothing produces none,
    and nothing here is estimated: ``fraction`` is None unless the provider
    gave one.

    Parameters:
        progress: The report: ``fraction``, ``queue_position``, ``message``.
            Its ``preview`` (when there is one) is the file as the backend
            returned it; the decoded preview travels in an
            :class:`ImageGenPreviewFrame`.

    Attributes:
        text: One line for people, such as ``"40% - step 12/28"`` or
            ``"queued (2 ahead)"``: a caption an app can show as it is.
    """

    progress: GenerationProgress
    text: str = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[no-untyped-call]
        self.text = self.progress.describe()

    def __str__(self) -> str:
        return f"{self.name}({self.text})"


@dataclass
class ImageGenPreviewFrame(OutputImageRawFrame):
    """A partial or low-step render of an image still being made: show it, never keep it.

    Sent downstream when the service has ``preview_frames=True`` and the
    backend streams previews. Raw pixels in the service's pixel mode, like
    its results; ``metadata["imagegen"]`` has ``"preview": True`` and the
    ``index`` of the image previewed. Not a ``URLImageRawFrame``, so code that
    keeps the service's results skips it.
    """
