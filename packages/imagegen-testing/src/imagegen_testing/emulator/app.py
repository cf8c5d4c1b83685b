"""The HTTP layer: Replicate's routes on ``aiohttp.web``.

Predictions (create three ways, get, cancel), the schema routes (models,
versions, deployments), the files API, and the delivery host for outputs.

One middleware does what every request shares, in the order a real edge
would: count the request, apply scripted faults (a proxy error or a reset
happens before the API sees anything), check the bearer token, apply the
rate limit, run the route, add rate-limit headers. Replies are counted as
their headers go out (``on_response_prepare``), before a client can read a
byte, so a test that holds the reply already sees it counted. Routes
raise :class:`Problem` for errors, which become ``application/problem+json``
bodies with ``title``, ``detail`` and ``status``, as Replicate sends them.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import re
import socket
import struct
from collections.abc import Awaitable, Callable
from contextlib import suppress
from http import HTTPStatus
from typing import Any, NoReturn

import aiohttp
from aiohttp import web

from imagegen_testing.clock import http_date
from imagegen_testing.emulator.faults import CREATE_ROUTES, Fault, FaultKind, Route, throttle_detail
from imagegen_testing.emulator.files import MAX_FILENAME_BYTES, UploadedFile
from imagegen_testing.emulator.headers import HeaderError, parse_cancel_after, parse_prefer_wait
from imagegen_testing.emulator.images import corrupt
from imagegen_testing.emulator.lifecycle import cancel, create_prediction, plan_for
from imagegen_testing.emulator.models import EmulatedModel
from imagegen_testing.emulator.ratelimit import TokenBucket
from imagegen_testing.emulator.schema import InputValidationError, validate_body
from imagegen_testing.emulator.state import EmulatorState, PredictionRecord

__all__ = ["STATE_KEY", "Problem", "build_app"]

STATE_KEY = web.AppKey("imagegen_emulator_state", EmulatorState)
_FAULTS = web.RequestKey("imagegen_emulator_faults", tuple[Fault, ...])
_ROUTE_NAMES = {route.value: route for route in Route}
_CREATE_OPTIONAL = frozenset({"stream", "webhook", "webhook_events_filter"})
_MODEL_NAME = r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*"
_VERSION_WITH_MODEL = re.compile(rf"(?P<model>{_MODEL_NAME}):(?P<version>[0-9a-f]{{64}})")
_BARE_VERSION = re.compile(r"[0-9a-f]{64}")
_OFFICIAL_MODEL = re.compile(_MODEL_NAME)
_FILE_NAME = re.compile(r"out-(?P<index>\d+)\.(?P<ext>[a-z]+)")
_DOWNLOAD_CHUNKS = 8
_MAX_JSON_BODY = 16 * 1024 * 1024
"""Largest create body read (a guess: Replicate documents no limit, only that
``data:`` URLs are for files up to 256 KB)."""
_UPLOAD_CHUNK = 64 * 1024
_CREATED = {*CREATE_ROUTES, Route.FILES_CREATE}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(Exception):
    """An error reply: becomes an ``application/problem+json`` response."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}

    def response(self) -> web.Response:
        """The reply that carries this problem."""
        body = {"title": self.title, "detail": self.detail, "status": self.status, **self.extra}
        return web.json_response(
            body, status=self.status, headers=self.headers, content_type="application/problem+json"
        )


def build_app(state: EmulatorState) -> web.Application:
    """An application serving Replicate's prediction routes from ``state``."""
    app = web.Application(middlewares=[_middleware], client_max_size=_MAX_JSON_BODY)
    app[STATE_KEY] = state
    app.on_response_prepare.append(_count)
    add = app.router
    add.add_post(
        "/v1/models/{owner}/{name}/predictions",
        _create_for_model,
        name=Route.MODELS_PREDICTIONS_CREATE,
    )
    add.add_post("/v1/predictions", _create_for_version, name=Route.PREDICTIONS_CREATE)
    add.add_post(
        "/v1/deployments/{owner}/{name}/predictions",
        _create_for_deployment,
        name=Route.DEPLOYMENTS_PREDICTIONS_CREATE,
    )
    add.add_get("/v1/predictions/{prediction_id}", _get, name=Route.PREDICTIONS_GET)
    add.add_post("/v1/predictions/{prediction_id}/cancel", _cancel, name=Route.PREDICTIONS_CANCEL)
    add.add_get("/v1/models/{owner}/{name}", _get_model, name=Route.MODELS_GET)
    add.add_get(
        "/v1/models/{owner}/{name}/versions/{version_id}",
        _get_version,
        name=Route.MODELS_VERSIONS_GET,
    )
    add.add_get("/v1/deployments/{owner}/{name}", _get_deployment, name=Route.DEPLOYMENTS_GET)
    add.add_post("/v1/files", _create_file, name=Route.FILES_CREATE)
    add.add_get("/v1/files", _list_files, name=Route.FILES_LIST)
    add.add_get("/v1/files/{file_id}", _get_file, name=Route.FILES_GET)
    add.add_delete("/v1/files/{file_id}", _delete_file, name=Route.FILES_DELETE)
    add.add_get("/delivery/{key}/{filename}", _deliver, name=Route.DELIVERY_GET)
    return app


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    route = _ROUTE_NAMES.get(request.match_info.route.name or "")
    if route is None:
        return _unknown_path(request)
    state.counters.requests[route] += 1
    faults = state.faults.take(route)
    state.counters.faults_injected.update(fault.kind for fault in faults)
    request[_FAULTS] = faults
    answer = next((fault for fault in faults if fault.kind.replaces_response), None)
    if answer is not None and not answer.after_processing:
        return _fault_response(request, answer, route)
    if route is Route.DELIVERY_GET:
        response = await handler(request)
    else:
        try:
            _authenticate(state, request)
            _throttle(state, route)
            response = await handler(request)
        except Problem as problem:
            response = problem.response()
        _add_rate_headers(state, route, response)
    if answer is not None and answer.kind is FaultKind.MALFORMED_REPLY:
        response = _malformed(answer, route)
    elif answer is not None:
        _reset_connection(request)
    return response


async def _count(request: web.Request, response: web.StreamResponse) -> None:
    state = request.app[STATE_KEY]
    state.counters.responses[response.status] += 1
    response.headers["Date"] = http_date(state.clock())


def _unknown_path(request: web.Request) -> web.StreamResponse:
    error = request.match_info.http_exception
    status = error.status if error is not None else 404
    reason = HTTPStatus(status).phrase
    if request.path.startswith("/v1/"):
        return Problem(status, reason, f"No route for {request.method} {request.path}").response()
    return web.Response(status=status, text=reason)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _malformed(fault: Fault, route: Route) -> web.StreamResponse:
    return web.Response(
        status=201 if route in _CREATED else 200, text=fault.body, content_type="application/json"
    )


def _fault_response(request: web.Request, fault: Fault, route: Route) -> web.StreamResponse:
    if fault.kind is FaultKind.MALFORMED_REPLY:
        return _malformed(fault, route)
    if fault.kind is FaultKind.CONNECTION_RESET:
        _reset_connection(request)
    headers = {} if fault.retry_after is None else {"Retry-After": _seconds(fault.retry_after)}
    if fault.html:
        return web.Response(
            status=fault.status, text=fault.html_body(), content_type="text/html", headers=headers
        )
    detail = fault.detail or f"Scripted {fault.status} from the Replicate emulator"
    return Problem(
        fault.status, HTTPStatus(fault.status).phrase, detail, headers=headers
    ).response()


def _drop_connection(request: web.Request, *, reset: bool) -> None:
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: closing sends RST, not FIN; clients see "connection reset by peer".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _reset_connection(request: web.Request) -> NoReturn:
    _drop_connection(request, reset=True)
    # Nothing may be written to the aborted connection; aiohttp ends the request quietly on this.
    raise asyncio.CancelledError


def _authenticate(state: EmulatorState, request: web.Request) -> None:
    header = request.headers.get("Authorization")
    if header is None:
        raise Problem(401, "Unauthenticated", "You did not pass an authentication token")
    scheme, _, token = header.strip().partition(" ")
    valid = scheme.lower() in {"bearer", "token"} and hmac.compare_digest(
        token.strip().encode(), state.api_token.encode()
    )
    if not valid:
        raise Problem(401, "Unauthenticated", "You did not pass a valid authentication token")


def _bucket(state: EmulatorState, route: Route) -> TokenBucket:
    return state.create_limit if route in CREATE_ROUTES else state.other_limit


def _throttle(state: EmulatorState, route: Route) -> None:
    wait = _bucket(state, route).take()
    if wait is None:
        return
    state.counters.throttled += 1
    seconds = max(1, math.ceil(wait))
    raise Problem(
        429,
        "Too Many Requests",
        throttle_detail(seconds),
        headers={"Retry-After": str(seconds)},
    )


def _add_rate_headers(state: EmulatorState, route: Route, response: web.StreamResponse) -> None:
    bucket = _bucket(state, route)
    response.headers["ratelimit-remaining"] = str(bucket.remaining)
    response.headers["ratelimit-reset"] = str(bucket.reset)


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(400, "Invalid JSON", "The request body is not valid JSON") from None
    except web.HTTPRequestEntityTooLarge:
        raise Problem(
            413,
            "Request Entity Too Large",
            f"The request body is larger than {_MAX_JSON_BODY} bytes; "
            "upload large files with POST /v1/files",
        ) from None


def _invalid(error: InputValidationError) -> Problem:
    return Problem(
        422,
        "Input validation failed",
        error.detail,
        extra={"invalid_fields": [vars(field) for field in error.fields]},
    )


def _model(state: EmulatorState, request: web.Request) -> EmulatedModel:
    model = f"{request.match_info['owner']}/{request.match_info['name']}"
    spec = state.catalog.get(model)
    if spec is None:
        raise Problem(
            404,
            "Model not found",
            f"The model {model} does not exist (or you do not have access to it)",
        )
    return spec


async def _create_for_model(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    spec = _model(state, request)
    model = spec.name
    if not spec.official:
        raise Problem(
            404,
            "Model not found",
            f"{model} is not an official model; run it by version with POST /v1/predictions",
        )
    return await _create(
        request, Route.MODELS_PREDICTIONS_CREATE, model=model, version="hidden", required=("input",)
    )


async def _create_for_version(request: web.Request) -> web.StreamResponse:
    return await _create(
        request, Route.PREDICTIONS_CREATE, model=None, version=None, required=("version", "input")
    )


async def _create_for_deployment(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    deployment = f"{request.match_info['owner']}/{request.match_info['name']}"
    model = state.deployments.get(deployment)
    if model is None:
        raise Problem(
            404,
            "Deployment not found",
            f"The deployment {deployment} does not exist (or you do not have access to it)",
        )
    return await _create(
        request,
        Route.DEPLOYMENTS_PREDICTIONS_CREATE,
        model=model,
        version=state.models[model],
        required=("input",),
        deployment=deployment,
    )


def _resolve_version(state: EmulatorState, value: str) -> tuple[str, str]:
    if match := _VERSION_WITH_MODEL.fullmatch(value):
        model = match["model"]
        if state.models.get(model) == match["version"]:
            return model, match["version"]
    elif _BARE_VERSION.fullmatch(value):
        model_name = state.model_for_version(value)
        if model_name is not None:
            return model_name, value
    elif (
        _OFFICIAL_MODEL.fullmatch(value)
        and value in state.catalog
        and state.catalog[value].official
    ):
        return value, "hidden"
    raise Problem(
        422,
        "Invalid version or not permitted",
        "The specified version does not exist (or perhaps you don't have permission to use it?)",
    )


async def _create(
    request: web.Request,
    route: Route,
    *,
    model: str | None,
    version: str | None,
    required: tuple[str, ...],
    deployment: str | None = None,
) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    try:
        prefer = parse_prefer_wait(request.headers.get("Prefer"))
        cancel_after = parse_cancel_after(
            request.headers.get("Cancel-After"), minimum=state.min_cancel_after
        )
    except HeaderError as error:
        raise Problem(400, error.title, error.detail) from None
    body = await _json_body(request)
    try:
        validate_body(body, required=required, optional=_CREATE_OPTIONAL)
        if model is None or version is None:
            model, version = _resolve_version(state, body["version"])
        spec = state.catalog[model]
        options = spec.validate(body["input"])
    except InputValidationError as error:
        raise _invalid(error) from None
    record = create_prediction(
        state,
        route=route,
        model=model,
        version=version,
        raw_input=body["input"],
        options=options,
        spec=spec,
        plan=plan_for(state, request.get(_FAULTS, ())),
        deployment=deployment,
        prefer_wait=prefer[0] if prefer else None,
        cancel_after=cancel_after,
    )
    if prefer is None:
        return web.json_response(record.to_json(), status=201)
    hold = prefer[0] if state.max_sync_wait is None else min(prefer[0], state.max_sync_wait)
    plan = record.plan
    if state.sync_waits_by_plan and plan.queue + plan.predict + plan.upload < hold:
        # Planned to finish within the wait: hold the reply until it has,
        # however slow the machine, so a recording does not depend on load.
        hold = _PLANNED_SYNC_WAIT_CAP
    with suppress(TimeoutError):
        await asyncio.wait_for(record.settled.wait(), hold)
    as_data_urls = state.data_urls or record.plan.data_urls
    response = web.json_response(record.to_json(as_data_urls=as_data_urls), status=201)
    response.headers["Preference-Applied"] = prefer[1]
    return response


_PLANNED_SYNC_WAIT_CAP = 120.0
"""Longest a reply waits for a prediction planned to finish within its sync wait."""


def _prediction(request: web.Request) -> PredictionRecord:
    state = request.app[STATE_KEY]
    prediction_id = request.match_info["prediction_id"]
    record = state.store.get(prediction_id)
    if record is None:
        raise Problem(404, "Not found", f"No prediction with id {prediction_id!r} exists")
    return record


async def _get(request: web.Request) -> web.StreamResponse:
    return web.json_response(_prediction(request).to_json())


async def _cancel(request: web.Request) -> web.StreamResponse:
    counters = request.app[STATE_KEY].counters
    counters.cancels_received += 1
    record = _prediction(request)
    delay = sum(f.seconds for f in request.get(_FAULTS, ()) if f.kind is FaultKind.SLOW_CANCEL)
    if delay > 0:
        await asyncio.sleep(delay)
        transport = request.transport
        if transport is None or transport.is_closing():
            # The client gave up (its session closed): the cancel never took effect.
            counters.cancels_abandoned += 1
            raise asyncio.CancelledError
    cancel(record, "user")
    return web.json_response(record.to_json())


async def _deliver(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if "Authorization" in request.headers:
        state.counters.files_with_authorization += 1
    record = state.store.by_file_key(request.match_info["key"])
    match = _FILE_NAME.fullmatch(request.match_info["filename"])
    if record is None or match is None or match["ext"] != record.output_format:
        return web.Response(status=404, text="Not Found")
    index = int(match["index"])
    if index >= len(record.files):
        return web.Response(status=404, text="Not Found")
    data = record.files[index]
    seconds = state.latency.download
    fraction: float | None = None
    for fault in request.get(_FAULTS, ()):
        if fault.kind is FaultKind.SLOW_DOWNLOAD:
            seconds = fault.seconds
        elif fault.kind is FaultKind.TRUNCATED_DOWNLOAD:
            fraction = fault.fraction
        elif fault.kind is FaultKind.CORRUPT_IMAGE:
            data = corrupt(data)
    response = web.StreamResponse(headers={"Content-Type": record.media_type})
    response.content_length = len(data)
    await response.prepare(request)
    if request.method == "HEAD":
        # aiohttp does not drop a streamed body for HEAD; sending one would corrupt the connection.
        await response.write_eof()
        return response
    body = data if fraction is None else data[: int(len(data) * fraction)]
    pieces = _DOWNLOAD_CHUNKS if seconds > 0 else 1
    step = math.ceil(len(body) / pieces) or 1
    for start in range(0, max(len(body), 1), step):
        if seconds > 0:
            await asyncio.sleep(seconds / pieces)
        try:
            await response.write(body[start : start + step])
        except ConnectionResetError:
            # The client went away mid-file (an interrupted bot does): a CDN
            # just stops sending. Counted, and ended quietly like a reset.
            state.counters.downloads_abandoned += 1
            raise asyncio.CancelledError from None
    if fraction is not None:
        _drop_connection(request, reset=False)
        return response
    await response.write_eof()
    return response


# -- schemas: models, versions, deployments ------------------------------------------


async def _get_model(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    return web.json_response(_model(state, request).model_object(state.origin))


async def _get_version(request: web.Request) -> web.StreamResponse:
    spec = _model(request.app[STATE_KEY], request)
    if request.match_info["version_id"] != spec.version:
        raise Problem(
            404,
            "Not found",
            f"The version {request.match_info['version_id']} of {spec.name} does not exist",
        )
    return web.json_response(spec.version_object())


async def _get_deployment(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    owner, name = request.match_info["owner"], request.match_info["name"]
    model = state.deployments.get(f"{owner}/{name}")
    if model is None:
        raise Problem(
            404,
            "Deployment not found",
            f"The deployment {owner}/{name} does not exist (or you do not have access to it)",
        )
    release = {
        "number": 1,
        "model": model,
        "version": state.catalog[model].version,
        "created_at": "2024-08-01T00:00:00.000000Z",
        "created_by": {"type": "organization", "username": owner, "name": owner},
        "configuration": {"hardware": "gpu-t4", "min_instances": 0, "max_instances": 1},
    }
    return web.json_response({"owner": owner, "name": name, "current_release": release})


# -- the files API -------------------------------------------------------------------


async def _read_part(part: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(_UPLOAD_CHUNK):
        size += len(chunk)
        if size > limit:
            raise Problem(
                413,
                "Request Entity Too Large",
                f"The file is larger than the {limit}-byte limit",
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _create_file(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if not request.content_type.startswith("multipart/form-data"):
        raise Problem(400, "Bad Request", "The request must be multipart/form-data")
    fields: dict[str, str] = {}
    content: bytes | None = None
    part_type = part_name = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        if part.name == "content":
            content = await _read_part(part, state.max_upload_bytes)
            part_type = part.headers.get("Content-Type")
            part_name = part.filename
        elif part.name in {"filename", "type", "metadata"}:
            fields[part.name] = (await _read_part(part, _UPLOAD_CHUNK)).decode("utf-8", "replace")
    if content is None:
        raise Problem(400, "Bad Request", "The request has no content part")
    filename = fields.get("filename") or part_name or "file"
    if len(filename.encode()) > MAX_FILENAME_BYTES:
        raise Problem(
            422, "Invalid filename", f"The filename is longer than {MAX_FILENAME_BYTES} bytes"
        )
    try:
        metadata = json.loads(fields["metadata"]) if "metadata" in fields else {}
    except json.JSONDecodeError:
        raise Problem(400, "Bad Request", "metadata is not valid JSON") from None
    file = UploadedFile(
        id=state.store.new_id(),
        name=filename,
        content_type=fields.get("type") or part_type or "application/octet-stream",
        data=content,
        metadata=metadata,
        ttl=state.file_ttl,
        origin=state.origin,
        created_at=state.clock(),
    )
    state.files.add(file)
    state.counters.files_created += 1
    return web.json_response(file.to_json(), status=201)


def _file(request: web.Request) -> UploadedFile:
    file_id = request.match_info["file_id"]
    file = request.app[STATE_KEY].files.available(file_id)
    if file is None:
        raise Problem(404, "Not found", f"No file with id {file_id!r} exists")
    return file


async def _get_file(request: web.Request) -> web.StreamResponse:
    return web.json_response(_file(request).to_json())


async def _list_files(request: web.Request) -> web.StreamResponse:
    files = [file for file in request.app[STATE_KEY].files.values() if file.available]
    results = [file.to_json() for file in reversed(files)]
    return web.json_response({"next": None, "previous": None, "results": results})


async def _delete_file(request: web.Request) -> web.StreamResponse:
    file = _file(request)
    file.deleted = True
    request.app[STATE_KEY].counters.files_deleted += 1
    return web.Response(status=204)
