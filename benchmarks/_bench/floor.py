"""The protocol's own floor: the core driving a backend as thin as the minimal client.

The service's excess over the minimal client has two owners: the core (the
``Generation`` wrapper, the render stream, the download and decode helpers,
the Pipecat service) and the Replicate backend (its transport, deadlines,
cancel-safe create, reply checks). :class:`ThinBackend` does only what the
minimal client does (one POST with ``Prefer: wait``, then a link per output)
behind the public backend protocol, so the two clients here measure what the
core costs any backend, however thin:

* :class:`ThinServiceClient`: the core's generic ``BackendImageGenService``
  over the thin backend, driven like :class:`~_bench.clients.ServiceClient`;
* :class:`ThinBackendClient`: the thin backend's ``generate`` with the core's
  public ``download`` and ``decode_off_loop``, like
  :class:`~_bench.clients.BackendClient`.

The thin backend is for measuring only: it checks nothing the fake could get
wrong and cancels nothing remotely.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import aiohttp

from _bench.clients import SEED, BackendClient, ServiceClient
from _bench.minimal import MODEL_PATH, SYNC_HEADERS
from imagegen_core import (
    BackendItem,
    BackendSettings,
    Capabilities,
    GeneratedImage,
    ImageBackend,
    ImageRequest,
)
from imagegen_core.pipecat import BackendImageGenService, BaseBackendImageGenService

__all__ = ["ThinBackend", "ThinBackendClient", "ThinServiceClient"]


class ThinSettings(BackendSettings):
    """Where the fake is: its profile root (the address policy trusts this host)."""

    base_url: str


class ThinBackend(ImageBackend[ThinSettings]):
    """One create with ``Prefer: wait``, a link per output: the minimal client's work."""

    name: ClassVar[str] = "bench-thin"
    settings_model: ClassVar[type[BackendSettings]] = ThinSettings

    def __init__(self, session: aiohttp.ClientSession, api: str) -> None:
        super().__init__({"base_url": api})
        self._session = session
        self._url = api + MODEL_PATH

    @property
    def capabilities(self) -> Capabilities:
        """Up to four images and a seed; nothing else to check."""
        return Capabilities(max_images_per_call=4, supports_seed=True)

    async def _generate(self, request: ImageRequest) -> AsyncIterator[BackendItem]:
        inputs = {"prompt": request.prompt, "num_outputs": request.num_images, "seed": request.seed}
        body = {"input": inputs}
        async with self._session.post(self._url, json=body, headers=SYNC_HEADERS) as response:
            prediction: dict[str, Any] = await response.json()
        for index, url in enumerate(prediction["output"]):
            yield GeneratedImage(url=url, index=index)


class ThinServiceClient(ServiceClient):
    """The core's generic Pipecat service over one thin backend, a service per output count."""

    def __init__(self, session: aiohttp.ClientSession, api: str) -> None:
        super().__init__(session, api)
        self._backend = ThinBackend(session, api)

    def _new_service(self, outputs: int) -> BaseBackendImageGenService[Any]:
        return BackendImageGenService(
            backend=self._backend,
            aiohttp_session=self._session,
            settings=BackendImageGenService.Settings(num_images=outputs, seed=SEED),
        )


class ThinBackendClient(BackendClient):
    """The thin backend through the protocol, fetched and decoded with the core's helpers."""

    def _new_backend(self, session: aiohttp.ClientSession, api: str) -> ImageBackend[Any]:
        return ThinBackend(session, api)
