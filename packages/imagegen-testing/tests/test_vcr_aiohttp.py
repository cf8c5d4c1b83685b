"""Recording and replaying real aiohttp traffic through the shared config, stub quirks included."""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import vcr
import yaml
from aiohttp import web

from imagegen_testing.vcr import (
    CassetteScrubber,
    find_secrets_in_cassette,
    resolve_aiohttp_base_url,
    shared_vcr_config,
)

TOKEN = "r8_LoopbackTestToken000000000000"
Serve = Callable[
    [dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]], Awaitable[str]
]


async def _echo(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return web.json_response({"detail": "bad token"}, status=401)
    origin = f"{request.scheme}://{request.host}"
    return web.json_response(
        {"path": request.path, "file": f"{origin}/files/a.txt", "body": await request.text()}
    )


async def _compressed(request: web.Request) -> web.Response:
    response = web.json_response({"padding": "x" * 4000})
    response.enable_compression()
    return response


def _recorded_uris(path: Path) -> list[str]:
    return [i["request"]["uri"] for i in yaml.safe_load(path.read_text())["interactions"]]


async def _call(
    method: str, url: str, session: dict[str, Any] | None = None, **options: Any
) -> tuple[int, dict[str, str], Any]:
    """One request in a fresh session: status, headers and JSON body."""
    async with (
        aiohttp.ClientSession(**(session or {})) as client,
        client.request(method, url, **options) as response,
    ):
        return response.status, dict(response.headers), await response.json()


def _vcr(scrubber: CassetteScrubber, record_mode: str) -> vcr.VCR:
    return vcr.VCR(record_mode=record_mode, **shared_vcr_config(scrubber))


async def test_vcrpy_records_base_url_sessions_without_their_host(
    tmp_path: Path, serve: Serve
) -> None:
    """The stub problem itself: if vcrpy ever fixes it, this test says the work-around can go."""
    origin = await serve({"POST /v1/{tail:.*}": _echo})
    path = tmp_path / "raw.yaml"
    with vcr.VCR(record_mode="once").use_cassette(str(path)):
        async with (
            aiohttp.ClientSession(base_url=f"{origin}/v1/") as session,
            session.post("jobs", headers={"Authorization": f"Bearer {TOKEN}"}) as response,
        ):
            assert response.status == 200
    assert _recorded_uris(path) == ["jobs"]


async def test_base_url_sessions_record_absolute_rewritten_urls_and_replay(
    tmp_path: Path, serve: Serve
) -> None:
    origin = await serve({"POST /v1/{tail:.*}": _echo})
    path = tmp_path / "fixed.yaml"
    scrubber = CassetteScrubber(secrets=[TOKEN], url_map={origin: "https://api.example.test"})
    headers = {"Authorization": f"Bearer {TOKEN}"}

    with _vcr(scrubber, "once").use_cassette(str(path)), resolve_aiohttp_base_url():
        session = {"base_url": f"{origin}/v1/", "headers": headers}
        _, _, live = await _call("POST", "jobs", session, json={"prompt": "cat"})
    assert live["path"] == "/v1/jobs"
    assert _recorded_uris(path) == ["https://api.example.test/v1/jobs"]
    text = path.read_text()
    assert origin not in text
    assert "Authorization" not in text
    assert find_secrets_in_cassette(path, [TOKEN]) == []

    # Replay at the canonical address: no server is needed (none listens there).
    with _vcr(CassetteScrubber(), "none").use_cassette(str(path)), resolve_aiohttp_base_url():
        session = {"base_url": "https://api.example.test/v1/"}
        _, _, replayed = await _call("POST", "jobs", session, json={"prompt": "cat"})
    assert replayed["file"] == "https://api.example.test/files/a.txt"
    assert replayed["body"] == '{"prompt": "cat"}'


async def test_compressed_responses_are_stored_plain_and_replay(
    tmp_path: Path, serve: Serve
) -> None:
    origin = await serve({"GET /z": _compressed})
    path = tmp_path / "gzip.yaml"
    with _vcr(CassetteScrubber(), "once").use_cassette(str(path)):
        _, headers, live = await _call("GET", f"{origin}/z", headers={"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert len(live["padding"]) == 4000
    stored = yaml.safe_load(path.read_text())["interactions"][0]["response"]
    assert not any(name.lower() == "content-encoding" for name in stored["headers"])
    with _vcr(CassetteScrubber(), "none").use_cassette(str(path)):
        _, _, replayed = await _call("GET", f"{origin}/z")
    assert len(replayed["padding"]) == 4000


async def test_replay_without_a_recording_refuses_instead_of_going_out(tmp_path: Path) -> None:
    with _vcr(CassetteScrubber(), "none").use_cassette(str(tmp_path / "empty.yaml")):
        async with aiohttp.ClientSession() as session:
            with pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException):
                await session.get("https://api.example.test/v1/jobs")
