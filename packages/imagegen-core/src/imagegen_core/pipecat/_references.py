"""The images a conversation can refer to: the service's last picture and the user's camera.

"Now make it night-time" edits the picture the service made last; "draw me
as a pirate" starts from the camera. :class:`ImageMemory` keeps both: the
encoded file of the last image the service delivered, and the last
``UserImageRawFrame`` (a camera or screen frame) that passed through. Either
becomes an :class:`~imagegen_core.InputImage` when a request needs it.

Raw frames are kept as they are and encoded to PNG only when used, in a
worker thread: a transport can capture a camera at several frames a second,
and encoding each would cost the event loop for pictures nobody asked for.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from pipecat.frames.frames import ImageRawFrame, UserImageRawFrame
from pydantic import ValidationError

from imagegen_core._decoding import DecodedImage
from imagegen_core._errors import ErrorKind, ImageGenError
from imagegen_core._inputs import MAX_INPUT_IMAGE_PIXELS, ImageRole, InputImage
from imagegen_core._validation import describe_validation

__all__ = ["ImageMemory", "input_image_from_frame"]


async def input_image_from_frame(
    frame: ImageRawFrame, *, role: ImageRole = ImageRole.EDIT
) -> InputImage:
    """An input image made from a Pipecat image frame (raw pixels), encoded as PNG off the loop.

    Use it to put a ``UserImageRawFrame``, or any other image frame your app
    holds, into :class:`~imagegen_core.pipecat.ImageGenEditFrame`'s ``images``.

    Raises:
        ImageGenError: ``invalid_request`` when the frame's pixels do not
            match its ``size`` and ``format`` (a PIL mode), or make an image
            over the input caps.
    """
    return await asyncio.to_thread(
        _encode_frame, frame.image, tuple(frame.size), frame.format, role
    )


@dataclass(frozen=True, slots=True)
class _Delivered:
    """An image the service delivered: its file as the backend sent it, and its pixels."""

    data: bytes
    decoded: DecodedImage


class ImageMemory:
    """The last image the service delivered and the last user image it saw."""

    def __init__(self) -> None:
        self._last: _Delivered | None = None
        self._user_frame: UserImageRawFrame | None = None

    @property
    def has_last_image(self) -> bool:
        """Whether the service has delivered an image yet."""
        return self._last is not None

    @property
    def has_user_image(self) -> bool:
        """Whether a ``UserImageRawFrame`` has been seen (and not used up)."""
        return self._user_frame is not None

    def remember_delivered(self, data: bytes, decoded: DecodedImage) -> None:
        """Keep an image the service just pushed as the one edits start from."""
        self._last = _Delivered(data, decoded)

    def remember_user_frame(self, frame: UserImageRawFrame) -> None:
        """Keep the newest camera or screen frame."""
        self._user_frame = frame

    async def last_image(self, role: ImageRole) -> InputImage:
        """The last delivered image as an input.

        The backend's own file when the protocol accepts it as an input (PNG,
        JPEG, WebP, GIF), else its decoded pixels as PNG.

        Raises:
            ImageGenError: ``invalid_request`` when no image was delivered yet.
        """
        last = self._last
        if last is None:
            raise ImageGenError(
                "no image to edit: this service has not produced one yet",
                kind=ErrorKind.INVALID_REQUEST,
            )
        return await asyncio.to_thread(_delivered_input, last, role)

    async def take_user_image(self, role: ImageRole) -> InputImage:
        """The last user frame as an input; it is used up, so a later prompt never reuses it.

        Raises:
            ImageGenError: ``invalid_request`` when no ``UserImageRawFrame``
                has arrived since the last one was used, or it is not a
                valid image.
        """
        frame, self._user_frame = self._user_frame, None
        if frame is None:
            raise ImageGenError(
                "no camera or screen image: no UserImageRawFrame has arrived since the last "
                "one was used",
                kind=ErrorKind.INVALID_REQUEST,
            )
        return await input_image_from_frame(frame, role=role)


def _delivered_input(delivered: _Delivered, role: ImageRole) -> InputImage:
    try:
        return InputImage(data=delivered.data, role=role)
    except ValidationError:
        # A format providers do not take as input (or a file the header check
        # refuses): send the pixels we decoded and showed instead.
        decoded = delivered.decoded
        return _encode_frame(decoded.pixels, tuple(decoded.size), decoded.mode, role)


def _encode_frame(
    pixels: bytes, size: tuple[int, ...], mode: str | None, role: ImageRole
) -> InputImage:
    # Pillow is only needed when a frame becomes an input; import it then.
    from PIL import Image

    if len(size) != 2 or not all(isinstance(side, int) and side > 0 for side in size):
        raise ImageGenError(
            f"image frame size must be (width, height) in whole pixels, got {size!r}",
            kind=ErrorKind.INVALID_REQUEST,
        )
    width, height = size
    if width * height > MAX_INPUT_IMAGE_PIXELS:
        # Refused before Pillow allocates the picture.
        raise ImageGenError(
            f"image frame is {width}x{height}, more than the input limit of "
            f"{MAX_INPUT_IMAGE_PIXELS:,} pixels",
            kind=ErrorKind.INVALID_REQUEST,
        )
    try:
        picture = Image.frombytes(mode or "RGB", (width, height), pixels)
    except (ValueError, TypeError) as exc:
        raise ImageGenError(
            f"image frame ({mode!r}, {width}x{height}, {len(pixels):,} bytes) is not "
            f"a valid raw image: {exc}",
            kind=ErrorKind.INVALID_REQUEST,
        ) from None
    if picture.mode not in ("RGB", "RGBA", "L", "LA"):
        picture = picture.convert("RGBA" if "A" in picture.mode else "RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)  # speed over size: it is sent once
    try:
        return InputImage(data=buffer.getvalue(), role=role)
    except ValidationError as exc:
        raise ImageGenError(
            f"image frame cannot be an input: {describe_validation(exc, 'input image')}",
            kind=ErrorKind.INVALID_REQUEST,
        ) from None
