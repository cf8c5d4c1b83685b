"""The clients compared against the minimal one, in the workspace's own environment.

Each has ``generate(outputs) -> images decoded`` and does the whole job a
bot needs, down to RGB pixels:

* :class:`ServiceClient`: this project's ``ReplicateImageGenService``, driven
  through ``run_image_gen`` as Pipecat's ``ImageGenService`` drives it (the
  frames a pipeline would push, without the pipeline's own queues, which cost
  the same whatever service sits in them);
* :class:`BackendClient`: the bare ``ReplicateBackend`` plus the core's
  public ``download`` and ``decode_off_loop``, as an app without Pipecat would;
* :class:`OfficialClient`: Replicate's ``replicate`` package (httpx),
  ``async_run`` then ``FileOutput.aread``, decoded in a thread. It is imported
  through :mod:`importlib` so that type-checking the benchmarks needs no stubs
  of it.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any

import aiohttp
from pipecat.frames.frames import ErrorFrame, URLImageRawFrame

from _bench.minimal import decode_rgb
from imagegen_core import GeneratedImage, ImageBackend, ImageRequest
from imagegen_core.http import download
from imagegen_core.pipecat import BaseBackendImageGenService
from imagegen_core.pixels import DecodedImage, decode_off_loop
from imagegen_replicate import ReplicateBackend, ReplicateImageGenService
from imagegen_replicate.pipecat_service import ReplicateImageGenSettings

__all__ = ["PROMPT", "SEED", "BackendClient", "OfficialClient", "ServiceClient"]

PROMPT = "a lighthouse at dawn"
SEED = 10


class ServiceClient:
    """The Pipecat service, one instance per output count (a setting of the service)."""

    def __init__(self, session: aiohttp.ClientSession, api: str) -> None:
        self._session = session
        self._api = api
        self._services: dict[int, BaseBackendImageGenService[Any]] = {}

    def service(self, outputs: int) -> BaseBackendImageGenService[Any]:
        """The service asking for ``outputs`` images per prompt."""
        if outputs not in self._services:
            self._services[outputs] = self._new_service(outputs)
        return self._services[outputs]

    def _new_service(self, outputs: int) -> BaseBackendImageGenService[Any]:
        return ReplicateImageGenService(
            aiohttp_session=self._session,
            api_token="bench",
            base_url=self._api + "/v1",
            settings=ReplicateImageGenSettings(num_outputs=outputs, seed=SEED),
        )

    async def generate(self, outputs: int = 1) -> int:
        """One prompt through ``run_image_gen``; returns the image frames it yielded."""
        frames = 0
        async for frame in self.service(outputs).run_image_gen(PROMPT):
            if isinstance(frame, ErrorFrame):
                raise RuntimeError(frame.error)
            if isinstance(frame, URLImageRawFrame):
                frames += 1
        if frames != outputs:
            raise RuntimeError(f"the service yielded {frames} of {outputs} images")
        return frames

    async def first_image_at(self) -> tuple[str, float]:
        """One prompt; the prediction id and the ``time.monotonic()`` its frame was ready."""
        service = self.service(1)
        async for frame in service.run_image_gen(PROMPT):
            if isinstance(frame, ErrorFrame):
                raise RuntimeError(frame.error)
            if isinstance(frame, URLImageRawFrame):
                return str(frame.metadata["imagegen"]["prediction_id"]), time.monotonic()
        raise RuntimeError("the service yielded no image")


class BackendClient:
    """The backend on its own, fetching and decoding with the core's public helpers."""

    def __init__(self, session: aiohttp.ClientSession, api: str) -> None:
        self._session = session
        self._backend = self._new_backend(session, api)

    def _new_backend(self, session: aiohttp.ClientSession, api: str) -> ImageBackend[Any]:
        return ReplicateBackend({"api_token": "bench", "base_url": api + "/v1"}, session=session)

    async def generate(self, outputs: int = 1) -> int:
        """One generation, every image decoded to RGB in a thread as it arrives."""
        request = ImageRequest(prompt=PROMPT, num_images=outputs, seed=SEED)
        renders: list[asyncio.Task[DecodedImage]] = []
        async for item in self._backend.generate(request):
            if isinstance(item, GeneratedImage):
                renders.append(asyncio.ensure_future(self._render(item)))
        await asyncio.gather(*renders)
        return len(renders)

    async def _render(self, image: GeneratedImage) -> DecodedImage:
        data = image.data
        if data is None:
            assert image.url is not None
            # As the service does: links are fetched under the backend's address
            # policy (which trusts the API's own host, the fake's loopback here).
            policy = self._backend.address_policy()
            data = (await download(self._session, image.url, addresses=policy)).data
        return await decode_off_loop(data)

    async def aclose(self) -> None:
        """Release the backend."""
        await self._backend.aclose()


class OfficialClient:
    """Replicate's own Python client, pointed at the fake with ``base_url``."""

    def __init__(self, api: str) -> None:
        replicate = importlib.import_module("replicate")
        self._file_output: Any = importlib.import_module("replicate.helpers").FileOutput
        self._client: Any = replicate.Client(api_token="bench", base_url=api)

    async def generate(self, outputs: int = 1) -> int:
        """``async_run``, then every output read and decoded concurrently."""
        files = await self._client.async_run(
            "black-forest-labs/flux-schnell",
            input={"prompt": PROMPT, "num_outputs": outputs, "seed": SEED},
        )

        async def one(file: Any) -> bytes:
            if isinstance(file, str):
                # The client wraps only https: links in FileOutput; the fake
                # serves plain http on loopback, so wrap it the same way.
                file = self._file_output(file, self._client)
            return await asyncio.to_thread(decode_rgb, await file.aread())

        decoded = await asyncio.gather(*(one(file) for file in files))
        return len(decoded)
