"""Shared fixtures for imagegen-testing's own tests (the emulator's tests have their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

# Imported here, before any pytester run, and never used by name: pytester's
# in-process runs restore sys.modules afterwards, so a module first imported
# inside one is dropped, and the next import makes a second copy. PyYAML's C
# loader cannot be imported twice (the extension keeps the first copy's
# classes), so a cassette loaded after that failed with "could not determine a
# constructor for the tag None" whenever this package's tests ran in the same
# process before another package's cassette tests (one pytest run, or one
# xdist worker).
import vcr.serializers.yamlserializer  # noqa: F401

from imagegen_testing.fake_server import FakeServer, Handler


def pytest_configure(config: pytest.Config) -> None:
    # The suite's own tests run small pytest sessions (pytester); the root
    # configuration is shared by every package, so the plugin is loaded here.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture
def suite_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory configured as a backend author's project might be.

    pytest-asyncio stays in its default *strict* mode, so the standard tests
    prove they carry their own asyncio marks.
    """
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[[dict[str, Handler]], Awaitable[str]]]:
    """Start loopback HTTP servers with ``{"METHOD /path": handler}`` routes; give their origin."""
    servers: list[FakeServer] = []

    async def start(routes: dict[str, Handler]) -> str:
        server = FakeServer(routes)
        await server.start()
        servers.append(server)
        return server.origin

    yield start
    for server in servers:
        await server.stop()
