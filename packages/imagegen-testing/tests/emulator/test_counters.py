"""Counters a test can assert on: requests by route, creates, cancels, running, replies."""

from __future__ import annotations

from imagegen_testing.emulator import Fault, Latency, Route


async def test_requests_are_counted_by_route(api, emulator):
    created = (await api.create(Prefer="wait=5")).body
    await api.request(
        "POST",
        "/predictions",
        json={"version": "black-forest-labs/flux-schnell", "input": api.SMALL},
    )
    await api.create(path="/deployments/imagegen/flux-schnell/predictions")
    await api.get(created["id"])
    await api.get(created["id"])
    await api.cancel(created["id"])
    await api.download(created["output"][0])
    await api.request("GET", "/predictions/x", headers={})  # rejected requests count too

    requests = emulator.counters.requests
    assert requests[Route.MODELS_PREDICTIONS_CREATE] == 1
    assert requests[Route.PREDICTIONS_CREATE] == 1
    assert requests[Route.DEPLOYMENTS_PREDICTIONS_CREATE] == 1
    assert requests[Route.PREDICTIONS_GET] == 3
    assert requests[Route.PREDICTIONS_CANCEL] == 1
    assert requests[Route.DELIVERY_GET] == 1
    assert emulator.counters.total_requests == 8
    assert emulator.counters.responses == {201: 3, 200: 4, 401: 1}


async def test_predictions_created_and_running(api, emulator):
    emulator.latency = Latency(queue=5)

    first = (await api.create()).body
    second = (await api.create()).body

    assert emulator.counters.predictions_created == 2
    assert emulator.counters.predictions_running == 2
    await api.cancel(first["id"])
    assert emulator.counters.predictions_running == 1
    await api.cancel(second["id"])
    assert emulator.counters.predictions_running == 0
    assert emulator.counters.predictions_created == 2


async def test_cancels_received_counts_every_cancel_request(api, emulator):
    emulator.latency = Latency(queue=5)
    created = (await api.create()).body

    await api.cancel(created["id"])
    await api.cancel(created["id"])
    await api.cancel("unknown")

    assert emulator.counters.cancels_received == 3


async def test_nothing_counted_before_any_request(emulator):
    assert emulator.counters.total_requests == 0
    assert emulator.counters.predictions_created == 0
    assert emulator.counters.cancels_received == 0
    assert emulator.counters.predictions_running == 0


async def test_reset_forgets_everything(api, emulator):
    emulator.latency = Latency(queue=5)
    created = (await api.create()).body
    task = emulator.predictions[created["id"]].task
    emulator.script(Fault.nsfw())
    counters = emulator.counters

    await emulator.reset()

    assert task.done()
    assert counters is emulator.counters  # a reference a test kept stays live
    assert emulator.counters.total_requests == 0
    assert emulator.counters.predictions_created == 0
    assert not emulator.predictions
    assert emulator.faults.pending == 0
    assert (await api.get(created["id"])).status == 404


async def test_a_download_the_client_hangs_up_on_is_counted_and_ends_quietly(api, emulator, caplog):
    url = (await api.create(Prefer="wait=5")).body["output"][0]
    emulator.latency = Latency(download=0.8)
    reply = await api.session.get(url)
    await reply.content.readany()  # the first of the slowed file's pieces
    reply.close()  # the client goes away mid-file

    await emulator.wait_until(lambda e: e.counters.downloads_abandoned > 0, within=2)

    assert emulator.counters.downloads_abandoned == 1
    assert not [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert (await api.download(url))[0] == 200  # and the next download is whole
