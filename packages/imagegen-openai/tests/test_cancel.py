"""Cancellation closes the request or stream at once; nothing is left running.

OpenAI has no endpoint to cancel an image generation: closing the connection
is all a client can do, and the emulator stops the generation when it sees
the client go (see the emulator's guesses).
"""

from __future__ import annotations

import asyncio

import pytest

from imagegen_core import ImageRequest
from imagegen_openai import OpenAIBackend
from imagegen_testing.openai_emulator import OpenAIEmulator, OpenAIFault

from .conftest import settings_for


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_cancelling_closes_the_connection_in_bounded_time(
    emulator: OpenAIEmulator, stream: bool
) -> None:
    emulator.script(OpenAIFault.slow(30))
    async with OpenAIBackend(settings_for(emulator, stream=stream)) as backend:
        task = asyncio.create_task(backend.generate(ImageRequest(prompt="x")).collect())
        await emulator.wait_until(lambda e: e.counters.generating == 1)
        task.cancel()
        # Bounded: far sooner than the 30 s the image would take.
        done, _ = await asyncio.wait({task}, timeout=5.0)
        assert task in done, "the cancelled generation was still running"
        assert task.cancelled()
        await emulator.wait_until(lambda e: e.counters.generating == 0, within=2.0)
    assert emulator.counters.disconnects == 1
    assert emulator.counters.images_generated == 0


async def test_stopping_iteration_after_the_first_image_closes_the_stream(
    emulator: OpenAIEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.latency = 0.2
    async with OpenAIBackend(settings_for(emulator, stream=True, partial_images=0)) as backend:
        generation = backend.generate(ImageRequest(prompt="x", num_images=3))
        first = await anext(generation)
        await generation.aclose()
    assert first.index == 0
    await emulator.wait_until(lambda e: e.counters.generating == 0, within=2.0)
    assert emulator.counters.images_generated < 3
    assert emulator.counters.disconnects == 1
    # The emulator ends the abandoned stream quietly, as a server would.
    assert not [r for r in caplog.records if r.name.startswith("aiohttp")]


async def test_the_generation_timeout_bounds_a_slow_reply(emulator: OpenAIEmulator) -> None:
    from imagegen_core import ErrorKind, ImageGenError

    emulator.script(OpenAIFault.slow(30))
    async with OpenAIBackend(settings_for(emulator, timeout=0.3)) as backend:
        with pytest.raises(ImageGenError) as caught:
            await backend.generate(ImageRequest(prompt="x")).collect()
    assert caught.value.kind is ErrorKind.TIMEOUT
    await emulator.wait_until(lambda e: e.counters.generating == 0, within=2.0)
