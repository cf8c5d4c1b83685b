"""Checks the standard tests share: what a correct image is, and where secrets must not be.

These live in the conformance package so pytest rewrites their ``assert``
statements (the pytest plugin registers the package for rewriting), and a
failing check explains itself. Checks about secrets never put the secret in
the failure message: they say where it was found, not what it was.
"""

from __future__ import annotations

import inspect
import io
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from imagegen_core import (
    Capabilities,
    GeneratedImage,
    ImageRequest,
    ImageSize,
    OutputFormat,
    parse_aspect_ratio,
)
from imagegen_testing.vcr import find_secrets_in_text

__all__ = [
    "ASPECT_RATIO_TOLERANCE",
    "DecodedImage",
    "check_image",
    "decode_image",
    "fail_on_secrets",
    "fetch_image_bytes",
    "secrets_in_error",
    "unsupported_setting",
]

ASPECT_RATIO_TOLERANCE = 0.1
"""Relative slack between a requested and a delivered aspect ratio: diffusion
models round sides to multiples of 16 or 64 (flux-schnell's 21:9 is 1536x640, 2.4:1)."""

_PIL_FORMAT = {OutputFormat.PNG: "PNG", OutputFormat.JPEG: "JPEG", OutputFormat.WEBP: "WEBP"}


@dataclass(frozen=True)
class DecodedImage:
    """What Pillow saw in an image's bytes."""

    format: str
    size: ImageSize
    mode: str


async def fetch_image_bytes(image: GeneratedImage, session: Any, *, max_bytes: int) -> bytes:
    """The encoded file of ``image``: its bytes, or what its URL serves.

    Args:
        image: The generated image.
        session: An ``aiohttp.ClientSession`` for URL outputs.
        max_bytes: Refuse larger downloads (a broken backend must not fill memory).
    """
    if image.data is not None:
        return image.data
    assert image.url is not None
    async with session.get(image.url) as response:
        assert response.status == 200, (
            f"downloading image {image.index} from its URL answered HTTP {response.status}"
        )
        data = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            data.extend(chunk)
            assert len(data) <= max_bytes, f"image {image.index} is larger than {max_bytes} bytes"
    return bytes(data)


def decode_image(data: bytes, *, index: int = 0) -> DecodedImage:
    """Decode with Pillow, failing the test with a clear message if the bytes are no image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return DecodedImage(str(image.format), ImageSize(*image.size), image.mode)
    except Exception as exc:
        pytest.fail(
            f"image {index} ({len(data)} bytes) does not decode with Pillow: "
            f"{type(exc).__name__}: {exc}"
        )


def check_image(
    image: GeneratedImage,
    decoded: DecodedImage,
    request: ImageRequest,
    capabilities: Capabilities,
) -> None:
    """Assert that an image is what the request asked for, wherever the backend promised it.

    * ``media_type`` and ``size``, when the backend reports them, match the file;
    * the requested format, when the backend offers it, is the file's format;
    * the requested exact size, when the backend supports sizes, is the pixel size;
    * the requested aspect ratio, when the backend offers it, is the file's ratio
      within :data:`ASPECT_RATIO_TOLERANCE`.
    """
    where = f"image {image.index}"
    if image.media_type is not None:
        expected_type = Image.MIME.get(decoded.format)
        assert image.media_type == expected_type, (
            f"{where} says media_type={image.media_type!r} but its bytes are {decoded.format}"
        )
    if image.size is not None:
        assert tuple(image.size) == tuple(decoded.size), (
            f"{where} says size={image.size} but its pixels are {decoded.size}"
        )
    if request.output_format is not None and request.output_format in capabilities.output_formats:
        expected_format = _PIL_FORMAT[request.output_format]
        assert decoded.format == expected_format, (
            f"{where}: asked for {request.output_format.value} (the backend offers it) "
            f"but got {decoded.format}"
        )
    if request.size is not None and capabilities.supports_size:
        assert tuple(decoded.size) == tuple(request.size), (
            f"{where}: asked for {request.size} (the backend supports sizes) but got {decoded.size}"
        )
    if request.aspect_ratio is not None and _ratio_offered(request.aspect_ratio, capabilities):
        width, height = parse_aspect_ratio(request.aspect_ratio)
        wanted = width / height
        got = decoded.size.width / decoded.size.height
        assert abs(got / wanted - 1) <= ASPECT_RATIO_TOLERANCE, (
            f"{where}: asked for aspect ratio {request.aspect_ratio} but got "
            f"{decoded.size} ({got:.3f}:1 instead of {wanted:.3f}:1)"
        )


def _ratio_offered(ratio: str, capabilities: Capabilities) -> bool:
    offered = capabilities.aspect_ratios
    return offered is None or ratio in offered


def unsupported_setting(capabilities: Capabilities) -> tuple[str, dict[str, Any]] | None:
    """A request setting the backend declares it cannot honour, with a value to send.

    Returns:
        ``(field name, request fields)``, or None when the backend honours
        every generic setting.
    """
    if not capabilities.supports_negative_prompt:
        return "negative_prompt", {"negative_prompt": "blurry, low contrast"}
    if not capabilities.supports_seed:
        return "seed", {"seed": 1234}
    if not capabilities.supports_quality:
        return "quality", {"quality": 70}
    missing = [f for f in OutputFormat if f not in capabilities.output_formats]
    if missing:
        return "output_format", {"output_format": missing[0]}
    if not capabilities.supports_size:
        return "size", {"size": "512x512"}
    if capabilities.aspect_ratios == frozenset():
        return "aspect_ratio", {"aspect_ratio": "16:9"}
    return None


def fail_on_secrets(places: Mapping[str, str], secrets: Iterable[str]) -> None:
    """Fail if any text in ``places`` holds a secret or a credential-shaped string.

    The failure names the places and which net caught them, never the value.
    """
    wanted = [s for s in secrets if s]
    findings = [
        str(finding)
        for where, text in places.items()
        for finding in find_secrets_in_text(text, wanted, where=where)
    ]
    if findings:
        pytest.fail("credentials leaked: " + "; ".join(findings), pytrace=False)


def secrets_in_error(error: BaseException, secrets: Iterable[str]) -> list[str]:
    """Where in ``error`` a debugger or an error tracker would show one of ``secrets``.

    Walks what such tools walk: every exception chained to ``error``
    (``__cause__`` and ``__context__``, all the way down), its ``str``,
    ``repr`` and attributes, and the local variables of every frame of every
    traceback on the way (each shown with ``repr``, as ``capture_locals``
    does), except the frames still running in the caller's own call stack
    (the test that holds the secret to look for it, say). Returns the
    places, such as ``"error.__context__"`` or ``"local 'raw' of _request in
    error.__cause__"``, never the secret; empty when nothing shows.
    """
    wanted = [s for s in secrets if s]
    found: list[str] = []
    running: set[int] = set()
    caller = inspect.currentframe()
    while caller is not None:
        running.add(id(caller))
        caller = caller.f_back
    seen: set[int] = set()
    pending: list[tuple[str, BaseException]] = [("error", error)]
    while pending:
        where, current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        own = [
            str(current),
            repr(current),
            _repr(vars(current) if hasattr(current, "__dict__") else {}),
        ]
        if any(secret in text for text in own for secret in wanted):
            found.append(where)
        tb = current.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, value in ({} if id(frame) in running else frame.f_locals).items():
                if any(secret in _repr(value) for secret in wanted):
                    found.append(f"local {name!r} of {frame.f_code.co_name} in {where}")
            tb = tb.tb_next
        for link in ("__cause__", "__context__"):
            linked = getattr(current, link)
            if linked is not None:
                pending.append((f"{where}.{link}", linked))
    return found


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a broken repr shows nothing, which is what matters here
        return f"<repr failed: {type(exc).__name__}>"
