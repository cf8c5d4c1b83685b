"""The OpenAI emulator answers as the Images API documents: routes, bodies, streams, errors."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from PIL import Image

from imagegen_testing.openai_emulator import (
    EMULATOR_API_KEY,
    MODERATION_MARKER,
    OpenAIEmulator,
    OpenAIFault,
    OpenAIRoute,
)

AUTH = {"Authorization": f"Bearer {EMULATOR_API_KEY}"}


@pytest.fixture
async def emu() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator() as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def png(size: tuple[int, int] = (64, 64), *, alpha: bool = False) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA" if alpha else "RGB", size, (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


async def post(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str] = AUTH
) -> tuple[int, CIMultiDict[str], Any]:
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, CIMultiDict(response.headers), await response.json()


def decoded(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


async def test_generation_reply_has_the_documented_shape(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    status, headers, body = await post(
        http,
        f"{emu.base_url}/images/generations",
        {"model": "gpt-image-1", "prompt": "a fox", "n": 2, "size": "1024x1536", "quality": "low"},
    )
    assert status == 200
    assert set(body) == {
        "created",
        "background",
        "data",
        "output_format",
        "quality",
        "size",
        "usage",
    }
    assert len(body["data"]) == 2
    assert decoded(body["data"][0]["b64_json"]).size == (1024, 1536)
    assert body["usage"]["output_tokens"] == 2 * 408
    assert body["usage"]["input_tokens_details"]["image_tokens"] == 0
    assert headers["x-request-id"].startswith("req_")
    for limit in ("requests", "tokens"):
        for part in ("limit", "remaining", "reset"):
            assert f"x-ratelimit-{part}-{limit}" in headers


async def test_transparent_backgrounds_have_alpha(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    _, _, body = await post(
        http,
        f"{emu.base_url}/images/generations",
        {"model": "gpt-image-1", "prompt": "logo", "background": "transparent"},
    )
    image = decoded(body["data"][0]["b64_json"])
    assert image.mode == "RGBA"
    assert image.getextrema()[3][0] == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-image-1", "prompt": "x", "size": "512x512"}, "size"),
        ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n"),
        ({"model": "gpt-image-2", "prompt": "x", "background": "transparent"}, "background"),
        ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, "response_format"),
        ({"model": "dall-e-3", "prompt": "x", "output_format": "png"}, "output_format"),
        (
            {"model": "gpt-image-1", "prompt": "x", "partial_images": 4, "stream": True},
            "partial_images",
        ),
        ({"model": "gpt-image-1", "prompt": "x", "mystery": 1}, "mystery"),
        ({"model": "no-such-model", "prompt": "x"}, "model"),
        ({"model": "gpt-image-1"}, "prompt"),
    ],
)
async def test_invalid_requests_get_openai_error_bodies_naming_the_param(
    emu: OpenAIEmulator, http: aiohttp.ClientSession, body: dict[str, Any], param: str
) -> None:
    status, _, reply = await post(http, f"{emu.base_url}/images/generations", body)
    assert status == 400
    assert set(reply["error"]) == {"message", "type", "param", "code"}
    assert reply["error"]["param"] == param
    assert reply["error"]["type"] == "invalid_request_error"


async def test_a_wrong_key_is_refused_with_its_ends_echoed_masked(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    wrong = "sk-wrongwrongwrongwrong-9876"
    status, _, reply = await post(
        http,
        f"{emu.base_url}/images/generations",
        {"prompt": "x"},
        {"Authorization": f"Bearer {wrong}"},
    )
    assert status == 401
    assert reply["error"]["code"] == "invalid_api_key"
    assert wrong not in reply["error"]["message"]
    assert "9876" in reply["error"]["message"]


async def test_edits_take_several_images_and_a_mask_on_the_first(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "gpt-image-1")
    form.add_field("prompt", "put them together")
    form.add_field("input_fidelity", "high")
    form.add_field("image[]", png((300, 200)), filename="a.png", content_type="image/png")
    form.add_field("image[]", png((64, 64)), filename="b.png", content_type="image/png")
    form.add_field("mask", png((300, 200), alpha=True), filename="m.png", content_type="image/png")
    async with http.post(f"{emu.base_url}/images/edits", data=form, headers=AUTH) as response:
        assert response.status == 200
        body = await response.json()
    assert decoded(body["data"][0]["b64_json"]).size == (1536, 1024), "auto follows the first image"
    assert body["usage"]["input_tokens_details"]["image_tokens"] > 0
    [seen] = emu.requests
    assert seen.route is OpenAIRoute.EDITS
    assert [u.size for u in seen.uploads] == [(300, 200), (64, 64)]
    assert seen.mask is not None
    assert seen.fields["input_fidelity"] == "high"


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (png((10, 10), alpha=True), "does not match"),
        (png((300, 200)), "alpha"),
    ],
)
async def test_a_mask_must_match_the_first_image_and_have_alpha(
    emu: OpenAIEmulator, http: aiohttp.ClientSession, mask: bytes, message: str
) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "gpt-image-1")
    form.add_field("prompt", "x")
    form.add_field("image", png((300, 200)), filename="a.png", content_type="image/png")
    form.add_field("mask", mask, filename="m.png", content_type="image/png")
    async with http.post(f"{emu.base_url}/images/edits", data=form, headers=AUTH) as response:
        assert response.status == 400
        reply = await response.json()
    assert reply["error"]["param"] == "mask"
    assert message in reply["error"]["message"]


async def test_a_stream_sends_partials_then_completed_per_image(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    body = {"model": "gpt-image-1", "prompt": "x", "n": 2, "stream": True, "partial_images": 2}
    async with http.post(f"{emu.base_url}/images/generations", json=body, headers=AUTH) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        text = (await response.read()).decode()
    events = [block for block in text.split("\n\n") if block]
    names = [block.split("\n")[0].removeprefix("event: ") for block in events]
    assert (
        names
        == [
            "image_generation.partial_image",
            "image_generation.partial_image",
            "image_generation.completed",
        ]
        * 2
    )
    payloads = [json.loads(block.split("\n")[1].removeprefix("data: ")) for block in events]
    assert [p.get("partial_image_index") for p in payloads[:2]] == [0, 1]
    assert all(p["type"] == name for p, name in zip(payloads, names, strict=True))
    assert "usage" in payloads[2]
    assert decoded(payloads[0]["b64_json"]).size == decoded(payloads[2]["b64_json"]).size


async def test_a_streamed_image_is_counted_before_the_client_can_read_it(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    # Tests check the counters the moment a backend hands over an image: the
    # emulator must count an event before sending it. A large image fills
    # the socket's buffer, so sending it gives the client its turn mid-write.
    body = {"model": "gpt-image-1", "prompt": "x", "size": "1024x1024", "stream": True}
    seen: list[tuple[str, int]] = []
    async with http.post(f"{emu.base_url}/images/generations", json=body, headers=AUTH) as response:
        assert response.status == 200
        assert emu.counters.responses[200] == 1  # counted as the reply started out
        async for line in response.content:
            if line.startswith(b"event: "):
                name = line.decode().removeprefix("event: ").strip()
                seen.append((name, emu.counters.images_generated))
    assert seen == [("image_generation.completed", 1)]


async def test_scripted_rate_limit_carries_the_reset_headers(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    emu.script(OpenAIFault.rate_limited(reset="6m0s", limit="tokens"))
    status, headers, reply = await post(http, f"{emu.base_url}/images/generations", {"prompt": "x"})
    assert status == 429
    assert reply["error"]["code"] == "rate_limit_exceeded"
    assert headers["x-ratelimit-remaining-tokens"] == "0"
    assert headers["x-ratelimit-reset-tokens"] == "6m0s"


async def test_the_rate_limiter_throttles_with_openai_s_429(http: aiohttp.ClientSession) -> None:
    async with OpenAIEmulator(requests_per_minute=1) as emu:
        first, _, _ = await post(http, f"{emu.base_url}/images/generations", {"prompt": "x"})
        second, headers, reply = await post(
            http, f"{emu.base_url}/images/generations", {"prompt": "x"}
        )
    assert (first, second) == (200, 429)
    assert reply["error"]["type"] == "requests"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert emu.counters.throttled == 1


async def test_moderation_marker_is_refused(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    status, _, reply = await post(
        http,
        f"{emu.base_url}/images/generations",
        {"model": "gpt-image-1", "prompt": MODERATION_MARKER},
    )
    assert status == 400
    assert reply["error"]["code"] == "moderation_blocked"
    assert emu.counters.images_generated == 0


async def test_dall_e_url_outputs_are_served_and_expire(http: aiohttp.ClientSession) -> None:
    async with OpenAIEmulator(file_ttl=0.0) as emu:
        _, _, body = await post(
            http, f"{emu.base_url}/images/generations", {"model": "dall-e-2", "prompt": "x"}
        )
        url = body["data"][0]["url"]
        async with http.get(url) as response:
            assert response.status == 404, "a link past its lifetime is gone"
    async with OpenAIEmulator() as emu:
        _, _, body = await post(
            http, f"{emu.base_url}/images/generations", {"model": "dall-e-2", "prompt": "x"}
        )
        async with http.get(body["data"][0]["url"]) as response:
            assert response.status == 200
            assert (await response.read()).startswith(b"\x89PNG")


async def test_azure_routes_need_api_version_and_take_the_api_key_header(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    url = f"{emu.azure_base_url()}/images/generations"
    key = {"api-key": EMULATOR_API_KEY}
    missing, _, _ = await post(http, url, {"prompt": "x"}, key)
    ok, _, _ = await post(http, f"{url}?api-version=2025-04-01-preview", {"prompt": "x"}, key)
    plain_route, _, _ = await post(http, f"{emu.base_url}/images/generations", {"prompt": "x"}, key)
    assert (missing, ok, plain_route) == (404, 200, 401)


def test_binding_beyond_loopback_needs_consent() -> None:
    with pytest.raises(ValueError, match="not loopback"):
        OpenAIEmulator(host="0.0.0.0")  # noqa: S104 - the refusal is the point


async def test_unknown_paths_answer_in_openai_s_error_format(
    emu: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{emu.base_url}/images/variations", headers=AUTH) as response:
        assert response.status in {404, 405}
        assert "error" in await response.json()
