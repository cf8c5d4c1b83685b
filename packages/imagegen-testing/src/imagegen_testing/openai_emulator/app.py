"""The emulator's aiohttp application: OpenAI's image routes, in OpenAI's formats.

Each API request goes through the same steps a real edge would: count it,
apply scripted faults, check the key (``Authorization: Bearer``, or
``api-key`` on the Azure routes), apply the rate limits, validate the body
(JSON for generations, multipart for edits), make the images, and reply as
JSON or as a stream of server-sent events, with ``x-request-id`` and the
``x-ratelimit-*`` headers. Errors are ``{"error": {"message", "type",
"param", "code"}}`` bodies. The client going away mid-generation cancels
the handler (aiohttp's ``handler_cancellation``), which is counted.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from aiohttp import web

from imagegen_core import ImageSize, OutputFormat
from imagegen_testing.clock import http_date
from imagegen_testing.openai_emulator.faults import OpenAIFault, OpenAIFaultKind, OpenAIRoute
from imagegen_testing.openai_emulator.images import (
    Upload,
    UploadError,
    inspect_upload,
    render,
    render_preview,
)
from imagegen_testing.openai_emulator.models import (
    INPUT_IMAGE_TOKENS,
    MODELS,
    EmulatedModel,
    output_tokens,
    text_tokens,
)
from imagegen_testing.openai_emulator.problems import ApiProblem
from imagegen_testing.openai_emulator.state import (
    EmulatorState,
    RecordedRequest,
    drop_connection,
)

__all__ = ["STATE_KEY", "ApiProblem", "build_app"]

STATE_KEY = web.AppKey("imagegen_openai_emulator_state", EmulatorState)
_FAULTS = web.RequestKey("imagegen_openai_emulator_faults", tuple[OpenAIFault, ...])
_REQUEST_ID = web.RequestKey("imagegen_openai_emulator_request_id", str)
_ROUTES = {route.value: route for route in OpenAIRoute}
_GPT_ONLY = frozenset(
    {"background", "moderation", "output_compression", "output_format", "partial_images", "stream"}
)
_COMMON = frozenset({"prompt", "model", "n", "size", "quality", "response_format", "user"})
_GENERATION_FIELDS = _COMMON | _GPT_ONLY | {"style"}
_EDIT_FIELDS = _COMMON | _GPT_ONLY | {"input_fidelity"}
_GPT_MAX_UPLOAD = 50 * 2**20
_DALL_E_MAX_UPLOAD = 4 * 2**20
_MAX_FORM_BYTES = 16 * _GPT_MAX_UPLOAD

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _invalid(param: str, message: str, code: str = "invalid_value") -> ApiProblem:
    return ApiProblem(400, message, param=param, code=code)


def build_app(state: EmulatorState) -> web.Application:
    """An application serving OpenAI's image routes from ``state``."""
    app = web.Application(middlewares=[_middleware], client_max_size=_MAX_FORM_BYTES)
    app[STATE_KEY] = state
    app.on_response_prepare.append(_date_header)
    # Counted as the reply starts out, not after the handler returned: a
    # client that has read a streamed reply to its end must find it counted.
    app.on_response_prepare.append(_count)
    router = app.router
    router.add_post("/v1/images/generations", _generations, name=OpenAIRoute.GENERATIONS)
    router.add_post("/v1/images/edits", _edits, name=OpenAIRoute.EDITS)
    azure = "/openai/deployments/{deployment}/images"
    router.add_post(f"{azure}/generations", _generations, name=f"azure:{OpenAIRoute.GENERATIONS}")
    router.add_post(f"{azure}/edits", _edits, name=f"azure:{OpenAIRoute.EDITS}")
    router.add_get("/files/{key}/{filename}", _file, name=OpenAIRoute.FILES)
    return app


# -- the edge ---------------------------------------------------------------------


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    name = request.match_info.route.name or ""
    azure = name.startswith("azure:")
    route = _ROUTES.get(name.removeprefix("azure:"))
    if route is None:
        return _unknown(request)
    state.counters.requests[route] += 1
    if route is OpenAIRoute.FILES:
        return await handler(request)
    faults = state.faults.take(route)
    state.counters.faults_injected.update(fault.kind for fault in faults)
    request[_FAULTS] = faults
    started = state.clock()
    reset = next((f for f in faults if f.kind is OpenAIFaultKind.CONNECTION_RESET), None)
    if reset is not None and not reset.after_processing:
        drop_connection(request, reset=True)
        raise asyncio.CancelledError
    try:
        error = next((f for f in faults if f.kind is OpenAIFaultKind.HTTP_ERROR), None)
        if error is not None:
            raise _scripted_error(error)
        _authenticate(state, request, azure=azure)
        state.throttle()
        response = await handler(request)
    except ApiProblem as problem:
        response = problem.response()
    if reset is not None:
        drop_connection(request, reset=True)
        raise asyncio.CancelledError
    if not response.prepared:
        _add_headers(state, request, response, started)
    return response


async def _count(request: web.Request, response: web.StreamResponse) -> None:
    request.app[STATE_KEY].counters.responses[response.status] += 1


def _unknown(request: web.Request) -> web.StreamResponse:
    error = request.match_info.http_exception
    status = error.status if error is not None else 404
    return ApiProblem(
        status, f"Invalid URL ({request.method} {request.path})", code=None
    ).response()


def _scripted_error(fault: OpenAIFault) -> ApiProblem:
    headers = dict(fault.headers)
    if fault.retry_after is not None:
        headers["retry-after"] = f"{fault.retry_after:g}"
    if fault.error_type == "html":
        return _HtmlProblem(fault.status, headers)
    return ApiProblem(
        fault.status,
        fault.message,
        error_type=fault.error_type or "server_error",
        param=fault.param,
        code=fault.code,
        headers=headers,
    )


class _HtmlProblem(ApiProblem):
    """A proxy's HTML error page in front of the API."""

    def __init__(self, status: int, headers: Mapping[str, str]) -> None:
        super().__init__(status, "proxy error", headers=headers)

    def response(self) -> web.Response:
        page = (
            f"<html><head><title>{self.status} Bad Gateway</title></head><body>edge</body></html>"
        )
        return web.Response(
            status=self.status, text=page, content_type="text/html", headers=self.headers
        )


def _authenticate(state: EmulatorState, request: web.Request, *, azure: bool) -> None:
    key: str | None = None
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else ""
        state.counters.auth_schemes["bearer"] += 1
    elif azure and "api-key" in request.headers:
        key = request.headers["api-key"].strip()
        state.counters.auth_schemes["api-key"] += 1
    if key is None:
        raise ApiProblem(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            code=None,
        )
    if not hmac.compare_digest(key.encode(), state.api_key.encode()):
        # OpenAI echoes a masked key; so does the emulator (clients must not log it raw).
        masked = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "***"
        raise ApiProblem(
            401,
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    if azure and "api-version" not in request.query:
        raise ApiProblem(404, "Resource not found", code="404", error_type="invalid_request_error")


async def _date_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Date"] = http_date(request.app[STATE_KEY].clock())


def _add_headers(
    state: EmulatorState, request: web.Request, response: web.StreamResponse, started: datetime
) -> None:
    headers = response.headers
    headers["x-request-id"] = request.get(_REQUEST_ID) or state.request_id()
    headers["openai-version"] = "2020-10-01"
    headers["openai-processing-ms"] = str(int((state.clock() - started).total_seconds() * 1000))
    headers["openai-organization"] = request.headers.get("OpenAI-Organization", "org-emulator")
    for name, value in state.rate_headers().items():
        headers.setdefault(name, value)


# -- parsing ------------------------------------------------------------------------


async def _json_fields(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiProblem(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)",
        ) from None
    if not isinstance(body, dict):
        raise ApiProblem(400, "The request body must be a JSON object.")
    return body


async def _form_fields(
    request: web.Request, model_hint: str | None
) -> tuple[dict[str, Any], list[Upload], Upload | None]:
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiProblem(
            400, "Invalid Content-Type header; expected multipart/form-data.", param=None
        )
    fields: dict[str, Any] = {}
    files: list[tuple[str, str | None, str | None, bytes]] = []
    reader = await request.multipart()
    async for part in reader:
        name = getattr(part, "name", None) or ""
        if getattr(part, "filename", None) is not None or name in {"image", "image[]", "mask"}:
            data = await part.read()  # type: ignore[union-attr]
            files.append((name, part.filename, part.headers.get("Content-Type"), bytes(data)))  # type: ignore[union-attr]
        else:
            fields[name] = await part.text()  # type: ignore[union-attr]
    model = MODELS.get(str(fields.get("model") or model_hint or ""), None)
    max_bytes = _DALL_E_MAX_UPLOAD if model is not None and not model.gpt_image else _GPT_MAX_UPLOAD
    uploads: list[Upload] = []
    mask: Upload | None = None
    try:
        for name, filename, content_type, data in files:
            if name == "mask":
                mask = inspect_upload(
                    "mask", filename, content_type, data, max_bytes=_DALL_E_MAX_UPLOAD
                )
            elif name in {"image", "image[]"}:
                uploads.append(
                    inspect_upload(name, filename, content_type, data, max_bytes=max_bytes)
                )
            else:
                raise ApiProblem(
                    400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
    except UploadError as error:
        raise _invalid(error.param, error.message, code="invalid_image") from None
    return _coerce_form(fields), uploads, mask


def _coerce_form(fields: dict[str, Any]) -> dict[str, Any]:
    """Form values are text; read numbers and booleans as the JSON body would carry them."""
    coerced: dict[str, Any] = dict(fields)
    for name in ("n", "output_compression", "partial_images"):
        if name in coerced:
            try:
                coerced[name] = int(coerced[name])
            except ValueError:
                raise _invalid(
                    name, f"Invalid type for '{name}': expected an integer.", "invalid_type"
                ) from None
    if "stream" in coerced:
        coerced["stream"] = str(coerced["stream"]).strip().lower() == "true"
    return coerced


# -- validation ----------------------------------------------------------------------


class _Plan:
    """A validated request: what to make and how to answer."""

    def __init__(self, model: EmulatedModel, fields: Mapping[str, Any], *, edit: bool) -> None:
        self.model = model
        self.edit = edit
        self.prompt: str = fields["prompt"]
        self.n: int = fields.get("n", 1)
        self.output_format = OutputFormat(fields.get("output_format") or "png")
        self.compression: int = fields.get("output_compression") or 0
        self.quality: str = fields.get("quality") or ("auto" if model.gpt_image else "standard")
        self.background: str = fields.get("background") or "auto"
        self.stream: bool = bool(fields.get("stream", False))
        self.partial_images: int = fields.get("partial_images", 0) if self.stream else 0
        self.response_format: str = fields.get("response_format") or (
            "b64_json" if model.gpt_image else "url"
        )
        self.size: ImageSize = model.default_size
        self.requested_size: str | None = fields.get("size")
        self.uploads: list[Upload] = []
        self.mask: Upload | None = None

    @property
    def billed_quality(self) -> str:
        return "medium" if self.quality == "auto" else self.quality

    @property
    def reported_background(self) -> str:
        return "opaque" if self.background == "auto" else self.background

    @property
    def event_prefix(self) -> str:
        return "image_edit" if self.edit else "image_generation"


def _model_for(fields: Mapping[str, Any]) -> EmulatedModel:
    name = fields.get("model")
    if name is None:
        # "Defaults to dall-e-2 unless a parameter specific to the GPT image models is used."
        name = "gpt-image-1" if _GPT_ONLY & fields.keys() else "dall-e-2"
    if not isinstance(name, str) or name not in MODELS:
        raise _invalid(
            "model",
            f"Invalid value: '{name}'. Supported values are: "
            + ", ".join(f"'{m}'" for m in MODELS)
            + ".",
        )
    return MODELS[name]


def _validate(fields: dict[str, Any], *, allowed: frozenset[str], edit: bool) -> _Plan:
    for name in fields:
        if name not in allowed:
            raise ApiProblem(
                400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
            )
    model = _model_for(fields)
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise _invalid(
            "prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter"
        )
    if len(prompt) > model.max_prompt:
        raise _invalid(
            "prompt",
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{model.max_prompt}, but got a string with length {len(prompt)} instead.",
            "string_above_max_length",
        )
    n = fields.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= model.max_n:
        raise _invalid("n", f"Invalid 'n': {n!r}. {model.name} supports n from 1 to {model.max_n}.")
    if not model.gpt_image:
        for name in _GPT_ONLY & fields.keys():
            raise _invalid(
                name, f"'{name}' is not supported for {model.name}.", "unsupported_parameter"
            )
    elif "response_format" in fields or "style" in fields:
        name = "response_format" if "response_format" in fields else "style"
        raise _invalid(
            name, f"'{name}' is not supported for {model.name}.", "unsupported_parameter"
        )
    if "style" in fields and model.name != "dall-e-3":
        raise _invalid(
            "style", f"'style' is not supported for {model.name}.", "unsupported_parameter"
        )
    _check_choice(fields, "quality", model.qualities)
    _check_choice(fields, "background", model.backgrounds)
    _check_choice(fields, "output_format", frozenset(f.value for f in OutputFormat))
    _check_choice(fields, "moderation", frozenset({"auto", "low"}))
    _check_choice(fields, "response_format", frozenset({"url", "b64_json"}))
    _check_choice(fields, "style", frozenset({"vivid", "natural"}))
    if edit and "input_fidelity" in fields:
        _check_choice(fields, "input_fidelity", model.input_fidelities)
    compression = fields.get("output_compression")
    if compression is not None and (
        not isinstance(compression, int) or not 0 <= compression <= 100
    ):
        raise _invalid("output_compression", "output_compression must be an integer from 0 to 100.")
    partial = fields.get("partial_images", 0)
    if not isinstance(partial, int) or not 0 <= partial <= 3:
        raise _invalid("partial_images", "partial_images must be an integer from 0 to 3.")
    plan = _Plan(model, fields, edit=edit)
    if plan.background == "transparent" and plan.output_format is OutputFormat.JPEG:
        raise _invalid("background", "Transparent background requires png or webp output_format.")
    size = fields.get("size")
    if size is not None and size != "auto":
        accepted = {str(s): s for s in model.sizes}
        if size not in accepted:
            offered = ", ".join(accepted) + (", and auto" if model.gpt_image else "")
            raise _invalid("size", f"Invalid size '{size}'. Supported sizes are {offered}.")
        plan.size = accepted[size]
    elif size == "auto" and not model.gpt_image:
        raise _invalid("size", f"Invalid size 'auto' for {model.name}.")
    return plan


def _check_choice(fields: Mapping[str, Any], name: str, allowed: frozenset[str]) -> None:
    if name in fields and fields[name] not in allowed:
        offered = ", ".join(f"'{v}'" for v in sorted(allowed)) or "none"
        raise _invalid(name, f"Invalid value: '{fields[name]}'. Supported values are: {offered}.")


def _check_uploads(plan: _Plan, uploads: list[Upload], mask: Upload | None) -> None:
    model = plan.model
    if not model.edits:
        raise _invalid("model", f"{model.name} does not support image edits.")
    if not uploads:
        raise _invalid(
            "image", "Missing required parameter: 'image'.", "missing_required_parameter"
        )
    if len(uploads) > model.max_input_images:
        raise _invalid("image", f"{model.name} accepts at most {model.max_input_images} image(s).")
    if not model.gpt_image:
        first = uploads[0]
        if first.format is not OutputFormat.PNG or first.size.width != first.size.height:
            raise _invalid("image", "Uploaded image must be a square PNG file less than 4 MB.")
    if mask is not None:
        if mask.format is not OutputFormat.PNG:
            raise _invalid("mask", "Invalid mask image format - mask image must be a PNG file.")
        if mask.size != uploads[0].size:
            raise _invalid(
                "mask", "Invalid mask image format - mask size does not match image size."
            )
        if not mask.has_alpha:
            raise _invalid(
                "mask", "Invalid mask image format - mask image must have an alpha channel."
            )
    plan.uploads = uploads
    plan.mask = mask
    if plan.requested_size in (None, "auto"):
        shape = uploads[0].size
        plan.size = min(
            model.sizes, key=lambda s: abs(s.width / s.height - shape.width / shape.height)
        )


# -- handlers -------------------------------------------------------------------------


async def _generations(request: web.Request) -> web.StreamResponse:
    fields = await _json_fields(request)
    plan = _validate(fields, allowed=_GENERATION_FIELDS, edit=False)
    return await _answer(request, plan, fields)


async def _edits(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    model_hint = state.deployments.get(request.match_info.get("deployment", ""))
    fields, uploads, mask = await _form_fields(request, model_hint)
    plan = _validate(fields, allowed=_EDIT_FIELDS, edit=True)
    _check_uploads(plan, uploads, mask)
    return await _answer(request, plan, fields)


async def _answer(
    request: web.Request, plan: _Plan, fields: Mapping[str, Any]
) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    faults = request.get(_FAULTS, ())
    state.log.append(
        RecordedRequest.of(request, fields, plan.uploads, plan.mask, route=_route_of(request))
    )
    if state.moderation_marker and state.moderation_marker in plan.prompt:
        raise ApiProblem(
            400,
            "Your request was rejected by the safety system. If you believe this is an error, "
            "contact us.",
            error_type="image_generation_user_error",
            code="moderation_blocked" if plan.model.gpt_image else "content_policy_violation",
        )
    count = plan.n
    for fault in faults:
        if fault.kind is OpenAIFaultKind.FEWER_IMAGES:
            count = min(count, fault.images)
    seconds = state.latency
    for fault in faults:
        if fault.kind is OpenAIFaultKind.SLOW:
            seconds = fault.seconds
    request[_REQUEST_ID] = state.request_id()
    state.counters.generating += 1
    try:
        if plan.stream:
            return await _stream(request, plan, count, seconds, faults)
        images = [await _make(state, plan, index, seconds) for index in range(count)]
        return web.json_response(_reply(state, request, plan, images, faults))
    except asyncio.CancelledError:
        # The client went away mid-generation: aiohttp cancelled the handler.
        state.counters.disconnects += 1
        raise
    except ConnectionResetError:
        # A stream write found the connection gone: the same, seen from the
        # write. Ended quietly (aiohttp would log it as a server error).
        state.counters.disconnects += 1
        raise asyncio.CancelledError from None
    finally:
        state.counters.generating -= 1


def _route_of(request: web.Request) -> OpenAIRoute:
    return _ROUTES[(request.match_info.route.name or "").removeprefix("azure:")]


def _seed(plan: _Plan, index: int) -> str:
    inputs = "".join(upload.digest for upload in plan.uploads)
    return f"{plan.prompt}\x00{index}\x00{inputs}"


async def _make(state: EmulatorState, plan: _Plan, index: int, seconds: float) -> bytes:
    """Make one image, taking ``seconds``; it is billed (counted) once made."""
    if seconds > 0:
        await asyncio.sleep(seconds)
    data = await _render_for(plan, index)
    state.counters.images_generated += 1
    return data


async def _render_for(plan: _Plan, index: int) -> bytes:
    return await render(
        _seed(plan, index),
        plan.size,
        plan.output_format,
        compression=plan.compression if plan.output_format is not OutputFormat.PNG else 0,
        transparent=plan.background == "transparent",
    )


def _usage(plan: _Plan, images: int) -> dict[str, Any]:
    text = text_tokens(plan.prompt)
    image_in = INPUT_IMAGE_TOKENS * len(plan.uploads)
    out = output_tokens(plan.size, plan.billed_quality) * images
    return {
        "input_tokens": text + image_in,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
        "output_tokens": out,
        "total_tokens": text + image_in + out,
    }


def _b64(state: EmulatorState, data: bytes, faults: tuple[OpenAIFault, ...]) -> str:
    if any(fault.kind is OpenAIFaultKind.BAD_IMAGE for fault in faults):
        data = b"GIF89a" + state.rng.randbytes(64)  # an image, but of no format the API returns
    return base64.b64encode(data).decode("ascii")


def _reply(
    state: EmulatorState,
    request: web.Request,
    plan: _Plan,
    images: list[bytes],
    faults: tuple[OpenAIFault, ...],
) -> dict[str, Any]:
    created = int(state.clock().timestamp())
    if plan.model.gpt_image:
        return {
            "created": created,
            "background": plan.reported_background,
            "data": [{"b64_json": _b64(state, image, faults)} for image in images],
            "output_format": plan.output_format.value,
            "quality": plan.billed_quality,
            "size": str(plan.size),
            "usage": _usage(plan, len(images)),
        }
    entries: list[dict[str, Any]] = []
    for index, image in enumerate(images):
        entry: dict[str, Any] = {}
        if plan.response_format == "url":
            key = state.store_file(image)
            entry["url"] = f"{state.origin}/files/{key}/img-{index}.png?se=expiry&sig=emulator"
        else:
            entry["b64_json"] = _b64(state, image, faults)
        if plan.model.name == "dall-e-3":
            entry["revised_prompt"] = f"A picture of: {plan.prompt}"
        entries.append(entry)
    return {"created": created, "data": entries}


async def _stream(
    request: web.Request,
    plan: _Plan,
    count: int,
    seconds: float,
    faults: tuple[OpenAIFault, ...],
) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    _add_headers(state, request, response, state.clock())
    response.headers["Cache-Control"] = "no-cache"
    await response.prepare(request)
    error = next((f for f in faults if f.kind is OpenAIFaultKind.STREAM_ERROR), None)
    cut = next((f for f in faults if f.kind is OpenAIFaultKind.STREAM_CUT), None)
    sent = 0

    async def send(
        event: dict[str, Any], counter: Literal["previews_sent", "images_generated"]
    ) -> bool:
        """Write one event, counting it first (a client reading it must find it counted)."""
        nonlocal sent
        if error is not None and sent == error.after_events:
            body = {
                "type": "error",
                "error": {
                    "message": error.message,
                    "type": "server_error",
                    "param": None,
                    "code": error.code,
                },
            }
            await response.write(_event("error", body))
            return False
        if cut is not None and sent == cut.after_events:
            drop_connection(request, reset=False)
            return False
        setattr(state.counters, counter, getattr(state.counters, counter) + 1)
        await response.write(_event(event["type"], event))
        sent += 1
        return True

    steps = plan.partial_images
    common = {
        "background": plan.reported_background,
        "output_format": plan.output_format.value,
        "quality": plan.billed_quality,
        "size": str(plan.size),
    }
    for index in range(count):
        final = await _render_for(plan, index)
        for step in range(steps):
            if seconds > 0:
                await asyncio.sleep(seconds / (steps + 1))
            preview = await render_preview(final, step, steps, plan.output_format)
            event = {
                "type": f"{plan.event_prefix}.partial_image",
                "b64_json": base64.b64encode(preview).decode("ascii"),
                "created_at": int(state.clock().timestamp()),
                "partial_image_index": step,
                **common,
            }
            if not await send(event, "previews_sent"):
                return response
        if seconds > 0:
            await asyncio.sleep(seconds / (steps + 1))
        event = {
            "type": f"{plan.event_prefix}.completed",
            "b64_json": _b64(state, final, faults),
            "created_at": int(state.clock().timestamp()),
            **common,
            "usage": _usage(plan, count),
        }
        if not await send(event, "images_generated"):
            return response
    await response.write_eof()
    return response


def _event(name: str, body: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(body)}\n\n".encode()


async def _file(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if "Authorization" in request.headers or "api-key" in request.headers:
        state.counters.files_with_authorization += 1
    data = state.file(request.match_info["key"])
    if data is None:
        return web.Response(status=404, text="The specified blob does not exist.")
    return web.Response(body=data, content_type="image/png")
