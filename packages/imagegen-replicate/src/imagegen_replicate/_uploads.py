"""Getting a request's input images to the model: checked, then inline, linked or uploaded.

Each image reaches Replicate in one of three ways:

* an http(s) URL the caller gave is passed as it is (Replicate fetches it when
  the model starts);
* bytes up to ``max_data_url_bytes`` go inline as a ``data:`` URL;
* larger bytes are uploaded to the files API (``POST /v1/files``, at most
  100 MiB each, well above the core's 50 MiB cap per input image), and the
  file's ``urls.get`` is the input. Uploaded files are deleted (``DELETE
  /v1/files/{id}``) once the prediction has ended, whatever its end; one whose
  deletion fails (or is cut short by cancellation) expires on Replicate 24 hours
  after it was created.

Before anything is uploaded, the images are checked against where the model
takes them (:class:`~imagegen_replicate._schema.ImageInputs`): more images
than its inputs hold, a mask it has no input for, or images for a model with
no image input at all are ``invalid_request`` errors, before any billed (or
any) request.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from imagegen_core import ErrorKind, ImageGenError, ImageRequest, InputImage
from imagegen_replicate._schema import ImageInputs
from imagegen_replicate._transport import ReplicateTransport
from imagegen_replicate._wire import UploadedFile

__all__ = ["StagedFiles", "check_placement"]

_log = logging.getLogger("imagegen.replicate")

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def check_placement(request: ImageRequest, placement: ImageInputs | None, model: str) -> None:
    """Refuse images and masks the model's inputs cannot take (before any request).

    Raises:
        ImageGenError: ``invalid_request``, naming the model's inputs.
    """
    count = len(request.images)
    if not count and request.mask is None:
        return
    if placement is None:
        raise ImageGenError(
            f"{model} has no input that takes images (its schema lists none); choose an "
            "editing model, or name the input with the input_names setting",
            kind=ErrorKind.INVALID_REQUEST,
            retryable=False,
        )
    if count > placement.limit:
        raise ImageGenError(
            f"{count} input images given; {model} takes at most {placement.limit} "
            f"(input {', '.join(placement.names)})",
            kind=ErrorKind.INVALID_REQUEST,
            retryable=False,
        )
    if request.mask is not None and placement.mask is None:
        raise ImageGenError(
            f"{model} has no mask input; edit the whole image or choose an inpainting model",
            kind=ErrorKind.INVALID_REQUEST,
            retryable=False,
        )


class StagedFiles:
    """The input images of one generation as URLs, and the uploads to delete afterwards."""

    def __init__(self, transport: ReplicateTransport, max_data_url_bytes: int) -> None:
        self._transport = transport
        self._max_inline = max_data_url_bytes
        self.uploaded: list[UploadedFile] = []

    async def place(self, request: ImageRequest, placement: ImageInputs) -> dict[str, Any]:
        """The model inputs carrying the request's images and mask."""
        images = [await self._url(image, f"image-{i}") for i, image in enumerate(request.images)]
        mask = await self._url(request.mask, "mask") if request.mask is not None else None
        return placement.place(images, mask)

    async def delete_all(self) -> None:
        """Delete every upload; one that fails is logged and left to expire."""
        while self.uploaded:
            file = self.uploaded.pop()
            try:
                await self._transport.delete_file(file)
            except ImageGenError as exc:
                _log.warning(
                    "could not delete input file %s (%s); Replicate deletes it at %s",
                    file.id,
                    exc,
                    file.expires_at or "its expiry, 24 hours after upload",
                )

    async def _url(self, image: InputImage, stem: str) -> str:
        if image.url is not None:
            return image.url
        # InputImage guarantees both for bytes (read from the header).
        assert image.data is not None
        assert image.media_type is not None
        if len(image.data) <= self._max_inline:
            return f"data:{image.media_type};base64,{base64.b64encode(image.data).decode('ascii')}"
        name = f"{stem}.{_EXTENSIONS.get(image.media_type, 'bin')}"
        file = await self._transport.upload_file(image.data, image.media_type, name)
        self.uploaded.append(file)
        return file.urls.get
