"""Turning an encoded image into raw pixels, safely: the public face of the core's decoder.

The Pipecat service needs raw pixels for its frames; an app without Pipecat
(a thumbnailer, a test) may want the same: one PIL mode, transparency
flattened, a pixel cap that stops decompression bombs, and failures as
:class:`~imagegen_core.ImageGenError`. On an event loop, await
:func:`decode_off_loop`: it decodes in one shared worker thread, which keeps
the loop's stalls short (see its module's docstring). Importing this module imports Pillow;
``import imagegen_core`` alone does not.
"""

from imagegen_core._decoding import (
    DEFAULT_BACKGROUND,
    DEFAULT_MAX_PIXELS,
    PIXEL_MODES,
    DecodedImage,
    channels_of,
    decode_image,
    decode_off_loop,
)

__all__ = [
    "DEFAULT_BACKGROUND",
    "DEFAULT_MAX_PIXELS",
    "PIXEL_MODES",
    "DecodedImage",
    "channels_of",
    "decode_image",
    "decode_off_loop",
]
