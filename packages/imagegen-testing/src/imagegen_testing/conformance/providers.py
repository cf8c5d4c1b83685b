"""Where traffic goes when it is not replayed: the provider a backend records against.

The standard tests never decide on their own what a backend talks to. When a
cassette is being recorded (or cassettes are off), the test class's
:meth:`~imagegen_testing.conformance.BackendConformance.live_provider` is
started for the scenario at hand and says which settings point the backend at
it (base URL, token), which URLs to rewrite in the cassette, which secrets to
scrub, and how many remote jobs are still running.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from imagegen_testing.conformance.scenarios import Scenario

__all__ = ["LiveProvider", "is_aiohttp_server_task"]


class LiveProvider(ABC):
    """A real or emulated service that a backend under test talks to.

    One instance serves one test: :meth:`start` is called before the test
    builds its backends and :meth:`stop` after they are closed.
    """

    @abstractmethod
    async def start(self, scenario: Scenario) -> Mapping[str, Any]:
        """Get ready for ``scenario`` and return backend settings that point at this provider.

        The returned settings are applied over the test class's
        ``backend_settings`` and under any scenario-specific settings (an
        invalid token still wins over the provider's valid one).
        """

    @abstractmethod
    async def stop(self) -> None:
        """Release everything :meth:`start` acquired. Called even when the test failed."""

    def cannot_run(self, scenario: Scenario) -> str | None:
        """Why this provider cannot produce ``scenario`` (the test then skips), or None."""
        return None

    def url_map(self) -> Mapping[str, str]:
        """URL prefixes to rewrite in cassettes, as recorded -> canonical (valid after start)."""
        return {}

    def secrets(self) -> Iterable[str]:
        """Credentials this provider handed out, to be kept out of cassettes (valid after start)."""
        return ()

    def owns_task(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` belongs to this provider (an in-process server's handler, say).

        The cancellation test demands that the backend leave no task behind;
        an emulator running in the same event loop has tasks of its own (one
        per kept-alive connection) that must not count against the backend.
        """
        return False

    def remote_jobs_running(self) -> int | None:
        """How many jobs the provider is still running, or None when it cannot tell."""
        return None

    def input_images_received(self) -> int | None:
        """How many input images the model read for the latest job, or None if unknowable.

        An emulator can tell; a live service does not say.
        """
        return None


def is_aiohttp_server_task(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is one of aiohttp's server-side tasks (a connection's handler).

    An in-process server (an emulator, a :class:`~imagegen_testing.fake_server.FakeServer`)
    shares the test's event loop; its tasks are the server's business, not
    leftovers of the backend under test.
    """
    code = getattr(task.get_coro(), "cr_code", None)
    if code is None:
        return False
    filename = Path(code.co_filename)
    return filename.parent.name == "aiohttp" and filename.name.startswith("web_")
