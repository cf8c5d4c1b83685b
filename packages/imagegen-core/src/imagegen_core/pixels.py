"""Turning an encoded image into raw pixels, safely: the public face of the core's decoder.

The Pipecat service needs raw pixels for its frames; an app without Pipecat
(a thumbnailer, a test) may want the same: one PIL mode, transparency
flattened, a pixel cap that stops decompression bombs, and failures as
:class:`~imagegen_core.ImageGenError`. On an event loop, await
:func:`decode_off_loop`: large images decode in worker processes (pixels come
back through shared memory, so the loop's process never holds the GIL for a
decode), small ones in a thread. :func:`start_decode_workers`,
:func:`stop_decode_workers` and :func:`set_decode_workers` control those
processes; without a call they start on the first large image and stop at
exit. Importing this module imports Pillow; ``import imagegen_core`` alone
does not.
"""

from imagegen_core._decode_pool import (
    DECODE_TIME_LIMIT,
    MAX_DECODE_WORKERS,
    PROCESS_MIN_PIXELS,
    decode_off_loop,
    decode_workers,
    set_decode_workers,
    start_decode_workers,
    stop_decode_workers,
)
from imagegen_core._decoding import (
    DEFAULT_BACKGROUND,
    DEFAULT_MAX_PIXELS,
    PIXEL_MODES,
    DecodedImage,
    channels_of,
    decode_image,
)

__all__ = [
    "DECODE_TIME_LIMIT",
    "DEFAULT_BACKGROUND",
    "DEFAULT_MAX_PIXELS",
    "MAX_DECODE_WORKERS",
    "PIXEL_MODES",
    "PROCESS_MIN_PIXELS",
    "DecodedImage",
    "channels_of",
    "decode_image",
    "decode_off_loop",
    "decode_workers",
    "set_decode_workers",
    "start_decode_workers",
    "stop_decode_workers",
]
