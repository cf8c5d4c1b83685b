"""Scripted latency and faults, per request and as seeded rates."""

from __future__ import annotations

import time

import aiohttp
import pytest

from imagegen_testing.emulator import (
    ALL_NSFW,
    CREATE_ROUTES,
    Fault,
    FaultKind,
    Latency,
    ReplicateEmulator,
    Route,
)


async def test_429_with_retry_after(api, emulator):
    emulator.script(Fault.rate_limited(retry_after=2))

    reply = await api.create()

    assert reply.status == 429
    assert reply.headers["Retry-After"] == "2"
    assert reply.content_type == "application/problem+json"
    assert reply.body["detail"] == "Request was throttled. Expected available in 2 seconds."
    assert emulator.counters.predictions_created == 0
    assert (await api.create()).status == 201


async def test_429_with_a_fractional_retry_after_for_fast_tests(api, emulator):
    emulator.script(Fault.rate_limited(retry_after=0.05))

    reply = await api.create()

    assert reply.headers["Retry-After"] == "0.05"


async def test_429_without_retry_after(api, emulator):
    emulator.script(Fault.rate_limited(retry_after=None))

    reply = await api.create()

    assert reply.status == 429
    assert "Retry-After" not in reply.headers
    assert reply.body["detail"].startswith("Request was throttled.")


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_as_problem_json(api, status):
    api.emulator.script(Fault.http_error(status))

    reply = await api.create()

    assert reply.status == status
    assert reply.content_type == "application/problem+json"
    assert reply.body["status"] == status


@pytest.mark.parametrize("status", [502, 503])
async def test_server_errors_with_a_proxys_html_body(api, status):
    api.emulator.script(Fault.http_error(status, html=True, retry_after=1))

    reply = await api.create()

    assert reply.status == status
    assert reply.content_type == "text/html"
    assert reply.body.lstrip().startswith("<html>")
    assert str(status) in reply.body
    assert reply.headers["Retry-After"] == "1"


async def test_faults_can_target_polls(api, emulator):
    emulator.script(Fault.http_error(503, route=Route.PREDICTIONS_GET))
    created = (await api.create()).body

    assert (await api.get(created["id"])).status == 503
    assert (await api.get(created["id"])).status == 200


async def test_connection_reset_before_processing(api, emulator):
    emulator.script(Fault.connection_reset())

    with pytest.raises(aiohttp.ClientConnectionError):
        await api.create()

    assert emulator.counters.predictions_created == 0
    assert emulator.counters.faults_injected[FaultKind.CONNECTION_RESET] == 1
    assert emulator.counters.requests[Route.MODELS_PREDICTIONS_CREATE] == 1
    assert (await api.create()).status == 201


async def test_connection_reset_after_processing_still_creates(api, emulator):
    emulator.script(Fault.connection_reset(after_processing=True))

    with pytest.raises(aiohttp.ClientConnectionError):
        await api.create()

    assert emulator.counters.predictions_created == 1
    await emulator.wait_idle()
    assert [record.status for record in emulator.predictions.values()] == ["succeeded"]


async def test_connection_reset_on_a_file(api, emulator):
    url = (await api.create(Prefer="wait=5")).body["output"][0]
    # aiohttp retries an idempotent request once after a reset, so it takes two.
    emulator.script(Fault.connection_reset(route=Route.DELIVERY_GET), times=2)

    with pytest.raises(aiohttp.ClientConnectionError):
        await api.download(url)
    assert emulator.counters.requests[Route.DELIVERY_GET] == 2
    assert (await api.download(url))[0] == 200


async def test_aiohttp_hides_a_single_reset_of_a_get(api, emulator):
    url = (await api.create(Prefer="wait=5")).body["output"][0]
    emulator.script(Fault.connection_reset(route=Route.DELIVERY_GET))

    assert (await api.download(url))[0] == 200
    assert emulator.counters.requests[Route.DELIVERY_GET] == 2
    assert emulator.counters.faults_injected[FaultKind.CONNECTION_RESET] == 1


async def test_slow_download(api, emulator):
    url = (await api.create(Prefer="wait=5")).body["output"][0]
    emulator.script(Fault.slow_download(0.2))

    started = time.monotonic()
    status, _, data = await api.download(url)

    assert time.monotonic() - started >= 0.18
    assert status == 200
    api.decode(data)


async def test_download_latency_applies_to_every_file(api, emulator):
    url = (await api.create(Prefer="wait=5")).body["output"][0]
    emulator.latency = Latency(download=0.1)

    started = time.monotonic()
    await api.download(url)
    await api.download(url)

    assert time.monotonic() - started >= 0.18


async def test_truncated_download(api, emulator):
    url = (await api.create(Prefer="wait=5")).body["output"][0]
    emulator.script(Fault.truncated_download(fraction=0.5))

    async with api.session.get(url) as reply:
        assert reply.status == 200
        announced = reply.content_length
        with pytest.raises(aiohttp.ClientPayloadError):
            await reply.read()
    assert announced is not None
    assert announced > 0


async def test_corrupt_image(api, emulator):
    url = (await api.create(Prefer="wait=5")).body["output"][0]
    _, _, good = await api.download(url)
    emulator.script(Fault.corrupt_image())

    status, content_type, bad = await api.download(url)

    assert status == 200
    assert content_type == "image/jpeg"
    assert len(bad) == len(good)
    assert bad[:4] == good[:4]
    with pytest.raises(Exception):  # noqa: B017, PT011 - PIL raises several types for bad data
        api.decode(bad)


async def test_failed_prediction(api, emulator):
    emulator.script(Fault.failed_prediction("CUDA out of memory"))

    body = (await api.create(Prefer="wait=5")).body

    assert body["status"] == "failed"
    assert body["error"] == "CUDA out of memory"
    assert body["output"] is None
    assert "CUDA out of memory" in body["logs"]
    assert "predict_time" in body["metrics"]


async def test_nsfw_drops_images(api, emulator):
    emulator.script(Fault.nsfw(dropped=1))

    body = (await api.create({**api.SMALL, "num_outputs": 3}, Prefer="wait=5")).body

    assert body["status"] == "succeeded"
    assert len(body["output"]) == 2
    assert "NSFW content detected in image 2" in body["logs"]
    assert body["metrics"]["image_count"] == 2


async def test_nsfw_dropping_everything_fails_like_flux_schnell(api, emulator):
    emulator.script(Fault.nsfw(dropped=4))

    body = (await api.create({**api.SMALL, "num_outputs": 2}, Prefer="wait=5")).body

    assert body["status"] == "failed"
    assert body["error"] == ALL_NSFW
    assert body["output"] is None


async def test_nsfw_does_nothing_with_the_safety_checker_disabled(api, emulator):
    emulator.script(Fault.nsfw(dropped=1))

    body = (await api.create({**api.SMALL, "disable_safety_checker": True}, Prefer="wait=5")).body

    assert len(body["output"]) == 1


async def test_data_removed_at_completion(api, emulator):
    emulator.script(Fault.data_removed())

    body = (await api.create(Prefer="wait=5")).body

    assert body["status"] == "succeeded"
    assert body["data_removed"] is True
    assert body["output"] is None
    assert body["input"] == {}
    assert body["logs"] == ""
    record = emulator.predictions[body["id"]]
    assert (await api.download(record.file_url(0)))[0] == 404


async def test_data_removed_later_breaks_the_file_urls(api, emulator):
    emulator.script(Fault.data_removed(after=0.05))

    body = (await api.create(Prefer="wait=5")).body
    url = body["output"][0]
    assert body["data_removed"] is False

    deadline = time.monotonic() + 2
    while not (await api.get(body["id"])).body["data_removed"]:
        assert time.monotonic() < deadline
    assert (await api.get(body["id"])).body["output"] is None
    assert (await api.download(url))[0] == 404


async def test_remove_data_by_hand(api, emulator):
    body = (await api.create(Prefer="wait=5")).body

    emulator.remove_data(body["id"])

    assert (await api.get(body["id"])).body["data_removed"] is True


async def test_slow_prediction_for_one_request(api, emulator):
    emulator.script(Fault.slow_prediction(queue=5))

    slow = (await api.create()).body
    fast = (await api.create(Prefer="wait=5")).body

    assert fast["status"] == "succeeded"
    assert emulator.predictions[slow["id"]].status == "starting"


async def test_faults_in_one_step_apply_together(api, emulator):
    emulator.script(Fault.nsfw(dropped=1), Fault.slow_prediction(predict=0.05))

    body = (await api.create({**api.SMALL, "num_outputs": 2}, Prefer="wait=5")).body

    assert len(body["output"]) == 1
    assert body["metrics"]["predict_time"] >= 0.05


async def test_times_repeats_a_step_then_it_is_gone(api, emulator):
    emulator.script(Fault.http_error(500), times=2)
    assert emulator.faults.pending == 2

    statuses = [(await api.create()).status for _ in range(3)]

    assert statuses == [500, 500, 201]
    assert emulator.faults.pending == 0


async def test_steps_are_fifo_and_wait_for_a_matching_route(api, emulator):
    emulator.script(Fault.corrupt_image())  # only files can take this one
    emulator.script(Fault.http_error(500))
    emulator.script(Fault.http_error(502))

    first, second = await api.create(), await api.create()

    assert (first.status, second.status) == (500, 502)
    assert emulator.faults.pending == 1


async def test_clear_forgets_scripts_and_rates(api, emulator):
    emulator.script(Fault.http_error(500))
    emulator.faults.add_rate(Fault.http_error(503), rate=1.0)

    emulator.faults.clear()

    assert (await api.create()).status == 201


async def test_rates_fire_at_about_the_rate_and_replay_with_the_seed(session):
    async def statuses(seed):
        async with ReplicateEmulator(seed=seed) as emu:
            emu.faults.add_rate(Fault.http_error(503, route=Route.PREDICTIONS_GET), rate=0.3)
            headers = {"Authorization": f"Bearer {emu.api_token}"}
            seen = []
            for _ in range(60):
                async with session.get(f"{emu.base_url}/predictions/x", headers=headers) as reply:
                    seen.append(reply.status)
            return seen

    first, again, other = await statuses(3), await statuses(3), await statuses(4)

    assert first == again
    assert first != other
    assert 5 <= first.count(503) <= 35
    assert set(first) == {404, 503}


async def test_rate_one_always_fires_and_rate_zero_never(api, emulator):
    emulator.faults.add_rate(Fault.http_error(500, route=Route.PREDICTIONS_GET), rate=0.0)
    emulator.faults.add_rate(Fault.http_error(503), rate=1.0)

    assert [(await api.create()).status for _ in range(3)] == [503, 503, 503]
    assert (await api.get("x")).status == 404


async def test_scripted_steps_come_before_rates(api, emulator):
    emulator.faults.add_rate(Fault.http_error(503), rate=1.0)
    emulator.script(Fault.http_error(500))

    assert [(await api.create()).status for _ in range(2)] == [500, 503]


def test_default_routes():
    assert Fault.http_error(500).routes == CREATE_ROUTES
    assert Fault.connection_reset().routes == CREATE_ROUTES
    assert Fault.failed_prediction().routes == CREATE_ROUTES
    assert Fault.corrupt_image().routes == {Route.DELIVERY_GET}
    assert Fault.http_error(
        500, route=[Route.PREDICTIONS_GET, Route.PREDICTIONS_CANCEL]
    ).routes == {
        Route.PREDICTIONS_GET,
        Route.PREDICTIONS_CANCEL,
    }


@pytest.mark.parametrize(
    "build",
    [
        lambda: Fault.http_error(200),
        lambda: Fault.http_error(500, retry_after=-1),
        lambda: Fault.http_error(500, route=[]),
        lambda: Fault.nsfw(dropped=0),
        lambda: Fault.truncated_download(fraction=1.0),
        lambda: Fault.slow_download(-1),
        lambda: Fault.slow_prediction(predict=-1),
        lambda: Fault.data_removed(after=-1),
    ],
)
def test_nonsense_faults_are_refused(build):
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        build()


def test_nonsense_steps_are_refused():
    emulator = ReplicateEmulator()
    with pytest.raises(ValueError, match="only one"):
        emulator.script(Fault.http_error(500), Fault.connection_reset())
    with pytest.raises(ValueError, match="no route"):
        emulator.script(Fault.nsfw(), Fault.corrupt_image())
    with pytest.raises(ValueError, match="times"):
        emulator.script(Fault.nsfw(), times=0)
    with pytest.raises(ValueError, match="at least one"):
        emulator.script()
    with pytest.raises(ValueError, match="rate"):
        emulator.faults.add_rate(Fault.nsfw(), rate=1.5)


def test_latency_must_not_be_negative():
    with pytest.raises(ValueError, match="queue"):
        Latency(queue=-0.1)
