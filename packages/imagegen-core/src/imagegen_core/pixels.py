"""Turning an encoded image into raw pixels, safely: the public face of the core's decoder.

The Pipecat service needs raw pixels for its frames; an app without Pipecat
(a thumbnailer, a test) may want the same: one PIL mode, transparency
flattened, a pixel cap that stops decompression bombs, and failures as
:class:`~imagegen_core.ImageGenError`. Importing this module imports Pillow;
``import imagegen_core`` alone does not.
"""

from imagegen_core._decoding import (
    DEFAULT_BACKGROUND,
    DEFAULT_MAX_PIXELS,
    PIXEL_MODES,
    DecodedImage,
    channels_of,
    decode_image,
)

__all__ = [
    "DEFAULT_BACKGROUND",
    "DEFAULT_MAX_PIXELS",
    "PIXEL_MODES",
    "DecodedImage",
    "channels_of",
    "decode_image",
]
