"""What happens to each request and response before vcrpy writes it to a cassette.

:class:`CassetteScrubber` provides vcrpy's ``before_record_request`` and
``before_record_response`` hooks. In order, it

* drops credential headers (``Authorization``, cookies, API-key headers) and
  masks credential query parameters, JSON fields and form fields, in requests
  and responses;
* replaces the secrets it was told about, and anything shaped like a token,
  in URLs, header values and bodies (JSON, text, and raw bytes);
* rewrites the addresses of the service the cassette was recorded from (an
  emulator on a random loopback port) to stable canonical ones, so replay
  needs no emulator and the cassette does not change with the port;
* shrinks image bodies, and images inside JSON (``data:`` URLs, and base64
  ``b64_json`` fields as OpenAI-style APIs send them), to tiny flat images of
  the same format and size (:mod:`imagegen_testing.vcr.shrink`); server-sent
  event streams are scrubbed event by event, as the JSON of each ``data:`` line;
* undoes an aiohttp stub quirk: vcrpy records aiohttp bodies already
  decompressed but keeps ``Content-Encoding``; the header is dropped and
  ``Content-Length`` fixed, and genuinely compressed bodies from other stubs
  are decompressed first so that they can be scrubbed at all.

vcrpy also runs ``before_record_request`` on live requests before matching
them against a cassette, so the URL rewriting makes replay match too; and it
runs both hooks over every interaction of a cassette it loads, so they are
idempotent and cheap on what they already scrubbed.
"""

from __future__ import annotations

import copy
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from imagegen_testing.vcr.secrets import REDACTED, SENSITIVE_NAME, redact_text
from imagegen_testing.vcr.shrink import shrink_base64_image, shrink_data_url, shrink_image

__all__ = ["CassetteScrubber"]

_ERROR_CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
"""snake_case words: how error codes look, and what no random OAuth code looks like."""
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


class CassetteScrubber:
    """Filters traffic on its way into a cassette; give it to :func:`shared_vcr_config`.

    It is mutable on purpose: a test learns its secrets (the token of the
    backend it builds) and the emulator's address only after vcrpy was
    configured, and registers them here before the first request.

    Args:
        secrets: Values that must never reach a cassette.
        url_map: Address prefixes to rewrite, recorded prefix -> canonical prefix.
        shrink_images: Re-encode image bodies as tiny flat images.
    """

    def __init__(
        self,
        *,
        secrets: Iterable[str] = (),
        url_map: Mapping[str, str] | None = None,
        shrink_images: bool = True,
    ) -> None:
        self._secrets: set[str] = set()
        self._url_map: dict[str, str] = {}
        self.shrink_images = shrink_images
        self.add_secrets(secrets)
        for recorded, canonical in (url_map or {}).items():
            self.map_url(recorded, canonical)

    def __deepcopy__(self, memo: dict[int, Any]) -> CassetteScrubber:
        # pytest-recording deep-copies vcr_config, hooks included, and a copied
        # scrubber would miss secrets registered after configuration. It is a
        # shared registry by design, so copies are the same object.
        return self

    # -- configuration ------------------------------------------------------------

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Register more values that must never be recorded."""
        self._secrets.update(s for s in secrets if s)

    @property
    def secrets(self) -> frozenset[str]:
        """Every registered secret."""
        return frozenset(self._secrets)

    def map_url(self, recorded: str, canonical: str) -> None:
        """Record URLs starting with ``recorded`` as if they started with ``canonical``.

        Example: ``map_url("http://127.0.0.1:53211/v1", "https://api.replicate.com/v1")``.
        """
        if not recorded:
            raise ValueError("the recorded URL prefix must not be empty")
        self._url_map[recorded] = canonical

    @property
    def url_map(self) -> Mapping[str, str]:
        """The registered prefix rewrites."""
        return dict(self._url_map)

    # -- vcrpy hooks --------------------------------------------------------------

    def before_record_request(self, request: Any) -> Any:
        """Scrub a (copied) ``vcr.request.Request``: vcrpy's ``before_record_request`` hook."""
        request.uri = self._scrub_url(request.uri)
        headers = {}
        for name, value in request.headers.items():
            if SENSITIVE_NAME.search(name):
                continue
            headers[name] = self._scrub_text(str(value))
        content_type = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
        body = self._scrub_request_body(request.body, content_type)
        boundary = _BOUNDARY.search(content_type)
        if boundary is not None and isinstance(body, bytes):
            # A client draws a random multipart boundary per request; a fixed
            # one keeps a re-recording of the same upload byte-identical.
            random_boundary = boundary.group(1).strip('"')
            body = body.replace(random_boundary.encode(), CANONICAL_BOUNDARY.encode())
            headers = {
                name: value.replace(random_boundary, CANONICAL_BOUNDARY)
                if name.lower() == "content-type"
                else value
                for name, value in headers.items()
            }
        request.headers = headers
        request.body = body
        return request

    def before_record_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """Scrub a recorded response dictionary (returning a copy): the response hook."""
        response = copy.deepcopy(response)
        headers = _Headers(response.get("headers") or {})
        body = response.get("body") or {}
        raw = body.get("string")
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if raw is not None:
            raw = _undo_content_encoding(headers, raw)
            raw = self._scrub_response_body(headers, raw)
            body["string"] = raw
            if headers.get("content-length") is not None:
                headers.set("content-length", str(len(raw)))
        for name in list(headers.names()):
            if SENSITIVE_NAME.search(name):
                headers.remove(name)
            else:
                headers.set_all(name, [self._scrub_text(v) for v in headers.get_all(name)])
        response["headers"] = headers.as_dict()
        response["body"] = body
        return response

    # -- pieces ---------------------------------------------------------------------

    def _rewrite_urls(self, text: str) -> str:
        for recorded in sorted(self._url_map, key=len, reverse=True):
            text = text.replace(recorded, self._url_map[recorded])
        return text

    def _scrub_text(self, text: str) -> str:
        return redact_text(self._rewrite_urls(text), self._secrets)

    def _scrub_url(self, url: str) -> str:
        url = self._rewrite_urls(url)
        parts = urlsplit(url)
        if parts.query:
            url = urlunsplit(parts._replace(query=_mask_form_fields(parts.query)))
        return redact_text(url, self._secrets)

    def _scrub_request_body(self, body: Any, content_type: str = "") -> Any:
        if body is None:
            return None
        if isinstance(body, dict | list):
            # aiohttp's json= argument reaches vcrpy as the object itself; store
            # the JSON aiohttp really sent, so the cassette shows the wire format.
            body = json.dumps(body).encode("utf-8")
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not isinstance(body, bytes):
            return body
        return self._scrub_bytes(body, content_type)

    def _scrub_response_body(self, headers: _Headers, raw: bytes) -> bytes:
        content_type = (headers.get("content-type") or "").lower()
        if self.shrink_images and (
            content_type.startswith("image/") or raw.startswith(_IMAGE_MAGIC) or _is_webp(raw)
        ):
            shrunk = shrink_image(raw)
            if shrunk is not None:
                return shrunk
        if content_type.startswith("text/event-stream"):
            return self._scrub_event_stream(raw)
        return self._scrub_bytes(raw, content_type)

    def _scrub_event_stream(self, raw: bytes) -> bytes:
        """Each ``data:`` line as JSON (or text), every other line as text."""
        lines = raw.decode("utf-8", "replace").split("\n")
        for position, line in enumerate(lines):
            field, sep, value = line.partition(":")
            if field == "data" and sep:
                payload = value[1:] if value.startswith(" ") else value
                scrubbed = self._scrub_bytes(payload.encode("utf-8"), "application/json")
                lines[position] = "data: " + scrubbed.decode("utf-8")
            else:
                lines[position] = self._scrub_text(line)
        return "\n".join(lines).encode("utf-8")

    def _scrub_bytes(self, raw: bytes, content_type: str = "") -> bytes:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Binary: only exact secrets can be recognised; replace them bytewise.
            for secret in sorted(self._secrets, key=len, reverse=True):
                if len(secret) >= 4:
                    raw = raw.replace(secret.encode("utf-8"), REDACTED.encode("ascii"))
            return raw
        if content_type.lower().startswith("application/x-www-form-urlencoded"):
            # ``api_key=...&prompt=...``: mask credential fields as in a query string.
            return self._scrub_text(_mask_form_fields(text)).encode("utf-8")
        try:
            document = json.loads(text)
        except ValueError:
            return self._scrub_text(text).encode("utf-8")
        if not isinstance(document, dict | list):
            return self._scrub_text(text).encode("utf-8")
        return json.dumps(self._scrub_json(document)).encode("utf-8")

    def _scrub_json(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self._scrub_json(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub_json(item, key) for item in value]
        if isinstance(value, str):
            if key is not None and SENSITIVE_NAME.search(key) and value:
                if key == "code" and _ERROR_CODE.fullmatch(value):
                    # An API's error code (OpenAI's "insufficient_quota"), not an OAuth
                    # code: replay must see it, or a quota error replays as a throttle.
                    return value
                return REDACTED
            if self.shrink_images and value.startswith("data:image/"):
                return shrink_data_url(value)
            if self.shrink_images and key == "b64_json":
                return shrink_base64_image(value)
            return self._scrub_text(value)
        return value


CANONICAL_BOUNDARY = "imagegen-recorded-boundary"
"""The multipart boundary recorded request bodies carry instead of the client's random one."""
_BOUNDARY = re.compile(r"boundary=([^;\s]+)", re.IGNORECASE)


def _mask_form_fields(encoded: str) -> str:
    """``a=1&api_key=x`` with every credential-named field's value replaced."""
    fields = [
        (name, REDACTED if SENSITIVE_NAME.search(name) else value)
        for name, value in parse_qsl(encoded, keep_blank_values=True)
    ]
    return urlencode(fields, safe="[]")


def _is_webp(raw: bytes) -> bool:
    return raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"


def _undo_content_encoding(headers: _Headers, raw: bytes) -> bytes:
    encoding = (headers.get("content-encoding") or "").strip().lower()
    if not encoding or encoding == "identity":
        return raw
    if encoding in {"gzip", "x-gzip", "deflate"}:
        # 47: gzip or zlib framing; -15: raw deflate, which some servers send.
        for wbits in (47, -15):
            try:
                raw = zlib.decompress(raw, wbits)
                break
            except zlib.error:
                continue
    # Bodies that did not decompress (and other encodings, br or zstd) come from
    # the aiohttp stub, which stores them already decoded: only the header is wrong.
    headers.remove("content-encoding")
    return raw


class _Headers:
    """Case-insensitive view of vcrpy's ``{name: [values]}`` header dictionaries."""

    def __init__(self, headers: Mapping[str, Any]) -> None:
        self._items: dict[str, tuple[str, list[str]]] = {}
        for name, values in headers.items():
            listed = [str(v) for v in values] if isinstance(values, list) else [str(values)]
            self._items[name.lower()] = (name, listed)

    def names(self) -> list[str]:
        return [name for name, _ in self._items.values()]

    def get(self, name: str) -> str | None:
        entry = self._items.get(name.lower())
        return entry[1][0] if entry and entry[1] else None

    def get_all(self, name: str) -> list[str]:
        entry = self._items.get(name.lower())
        return list(entry[1]) if entry else []

    def set(self, name: str, value: str) -> None:
        self.set_all(name, [value])

    def set_all(self, name: str, values: list[str]) -> None:
        original = self._items.get(name.lower(), (name, []))[0]
        self._items[name.lower()] = (original, values)

    def remove(self, name: str) -> None:
        self._items.pop(name.lower(), None)

    def as_dict(self) -> dict[str, list[str]]:
        return {name: values for name, values in self._items.values()}
