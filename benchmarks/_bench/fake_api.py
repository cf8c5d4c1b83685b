"""A fake Replicate prediction API, run in a process of its own.

The bundled emulator renders images on request and cannot serve a 64 px
file, and in the benchmark's own process its work would be counted as the
client's. This server pre-encodes one WebP per size at start-up and then only
hands out bytes, so every client under test meets the same, cheap server.

What a request gets is chosen by the first path segment, the *profile*
``SIDE-DELAY-PREDICT[-MAXWAIT]``: image side in pixels, milliseconds before
each output file's body is sent, the prediction's run time in milliseconds,
and the longest ``Prefer: wait`` honoured in seconds (60, Replicate's limit,
unless given; 0 turns sync mode off). So
``/1024-200-0/v1`` is an API whose predictions finish at once with 1 MP
outputs that each take 200 ms to download. The official ``replicate`` client
is given the profile URL without ``/v1`` (it adds that itself).

* ``POST /{profile}/v1/models/{owner}/{name}/predictions``: honours
  ``Prefer: wait=N``; the reply is ``succeeded`` with ``num_outputs`` file
  links when the prediction finishes within the wait, else ``processing``.
* ``GET /{profile}/v1/predictions/{id}``: the prediction now.
* ``POST /{profile}/v1/predictions/{id}/cancel``: marks it canceled.
* ``GET /files/{side}/{delay}/{n}.webp``: an output file.
* ``GET /_stats``: per prediction, API requests seen and the
  ``time.monotonic()`` at which it finished (the same clock in every process
  of this machine), for the long-prediction figures.

Run: ``python -m _bench.fake_api`` from ``benchmarks/``; it prints its port on
the first line of standard output and serves until standard input closes.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["SIDES", "encoded_image", "main"]

SIDES = (64, 1024)
"""Image sides served: 1 MP (what flux-schnell returns) and a tiny one that
exposes per-request overhead."""

SEED = 10
"""Fixed seed of the images, so every run decodes the same bytes."""

_PROFILE = re.compile(r"^(\d+)-(\d+)-(\d+)(?:-(\d+))?$")


def encoded_image(side: int, *, seed: int = SEED) -> bytes:
    """A WebP (quality 80, as flux-schnell's default) that costs about what a photo costs to decode.

    Smooth test patterns compress to almost nothing and decode faster than
    real outputs; blurred noise under a few shapes is closer to a photograph.
    """
    rng = random.Random(seed)
    coarse = max(8, side // 8)
    noise = Image.frombytes("RGB", (coarse, coarse), rng.randbytes(coarse * coarse * 3))
    image = noise.resize((side, side), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(side), rng.randrange(side)
        r = rng.randrange(max(2, side // 16), max(3, side // 4))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    fine = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    image = Image.blend(image.filter(ImageFilter.GaussianBlur(1.5)), fine, 0.08)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80)
    return out.getvalue()


@dataclass
class _Prediction:
    id: str
    profile: str
    side: int
    delay_ms: int
    outputs: int
    done_at: float
    requests: int = 1
    canceled: bool = False
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ"))


class _Api:
    def __init__(self) -> None:
        self.files = {side: encoded_image(side) for side in SIDES}
        self.predictions: dict[str, _Prediction] = {}
        self.ids = itertools.count(1)
        self.origin = ""

    def reply(self, prediction: _Prediction) -> dict[str, Any]:
        now = time.monotonic()
        if prediction.canceled:
            status = "canceled"
        else:
            status = "succeeded" if now >= prediction.done_at else "processing"
        base = f"{self.origin}/{prediction.profile}/v1/predictions/{prediction.id}"
        output: list[str] | None = None
        if status == "succeeded":
            output = [
                f"{self.origin}/files/{prediction.side}/{prediction.delay_ms}/{n}.webp"
                for n in range(prediction.outputs)
            ]
        return {
            "id": prediction.id,
            "model": "black-forest-labs/flux-schnell",
            "version": "bench",
            "status": status,
            "input": {},
            "output": output,
            "error": None,
            "logs": "",
            "created_at": prediction.created,
            "urls": {"get": base, "cancel": f"{base}/cancel"},
            "metrics": {"predict_time": 0.5} if status == "succeeded" else {},
        }

    async def create(self, request: web.Request) -> web.Response:
        profile = request.match_info["profile"]
        match = _PROFILE.match(profile)
        if match is None:
            raise web.HTTPNotFound(text="unknown profile")
        side, delay_ms, predict_ms = (int(g) for g in match.groups()[:3])
        max_wait = float(match.group(4)) if match.group(4) is not None else 60.0
        if side not in self.files:
            raise web.HTTPNotFound(text=f"side {side} is not served")
        body = await request.json()
        outputs = int(body.get("input", {}).get("num_outputs", 1))
        prediction = _Prediction(
            id=f"bench{next(self.ids):08d}",
            profile=profile,
            side=side,
            delay_ms=delay_ms,
            outputs=outputs,
            done_at=time.monotonic() + predict_ms / 1000,
        )
        self.predictions[prediction.id] = prediction
        wait = min(_prefer_wait(request.headers.get("Prefer")), max_wait)
        if wait:
            remaining = prediction.done_at - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(min(remaining, wait))
        return web.json_response(self.reply(prediction), status=201)

    async def get(self, request: web.Request) -> web.Response:
        prediction = self._known(request)
        prediction.requests += 1
        return web.json_response(self.reply(prediction))

    async def cancel(self, request: web.Request) -> web.Response:
        prediction = self._known(request)
        prediction.requests += 1
        prediction.canceled = True
        return web.json_response(self.reply(prediction))

    async def file(self, request: web.Request) -> web.Response:
        side, delay_ms = int(request.match_info["side"]), int(request.match_info["delay"])
        if side not in self.files:
            raise web.HTTPNotFound()
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        return web.Response(body=self.files[side], content_type="image/webp")

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                p.id: {"requests": p.requests, "done_at": p.done_at}
                for p in self.predictions.values()
            }
        )

    def _known(self, request: web.Request) -> _Prediction:
        try:
            return self.predictions[request.match_info["id"]]
        except KeyError:
            raise web.HTTPNotFound(text="no such prediction") from None


def _prefer_wait(header: str | None) -> float:
    if not header:
        return 0.0
    match = re.search(r"wait(?:=(\d+))?", header)
    if match is None:
        return 0.0
    return float(match.group(1) or 60)


async def _serve() -> None:
    api = _Api()
    app = web.Application()
    app.router.add_post("/{profile}/v1/models/{owner}/{name}/predictions", api.create)
    app.router.add_get("/{profile}/v1/predictions/{id}", api.get)
    app.router.add_post("/{profile}/v1/predictions/{id}/cancel", api.cancel)
    app.router.add_get("/files/{side}/{delay}/{n}.webp", api.file)
    app.router.add_get("/_stats", api.stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    api.origin = f"http://127.0.0.1:{port}"
    print(json.dumps({"port": port}), flush=True)
    # Serve until the parent closes our standard input (or dies).
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


def main() -> None:
    """Serve until standard input closes."""
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
