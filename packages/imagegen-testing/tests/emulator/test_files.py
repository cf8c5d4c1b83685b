"""The files API: multipart uploads, reading, deleting, expiry, limits, faults."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
import pytest

from imagegen_testing.emulator import (
    FLUX_KONTEXT_PRO,
    MAX_UPLOAD_BYTES,
    Fault,
    ReplicateEmulator,
    Route,
)


async def test_an_upload_answers_201_with_the_documented_file_object(api, emulator):
    data = api.png()

    status, body = await api.upload(data, metadata={"customer_reference_id": 123})

    assert status == 201
    assert body["name"] == "photo.png"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(data)
    assert body["checksums"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["metadata"] == {"customer_reference_id": 123}
    assert body["urls"]["get"] == f"{emulator.base_url}/files/{body['id']}"
    assert body["expires_at"] > body["created_at"]
    assert emulator.counters.files_created == 1
    assert emulator.counters.files_live == 1


async def test_a_file_can_be_read_then_deleted_then_is_gone(api, emulator):
    _, created = await api.upload(api.png())

    got = await api.request("GET", f"/files/{created['id']}")
    deleted = await api.request("DELETE", f"/files/{created['id']}")
    again = await api.request("GET", f"/files/{created['id']}")
    twice = await api.request("DELETE", f"/files/{created['id']}")

    assert got.status == 200
    assert got.body["id"] == created["id"]
    assert deleted.status == 204
    assert (again.status, twice.status) == (404, 404)
    assert emulator.counters.files_deleted == 1
    assert emulator.counters.files_live == 0


async def test_files_are_listed_newest_first(api):
    _, first = await api.upload(api.png(colour=(1, 2, 3)))
    _, second = await api.upload(api.png(colour=(4, 5, 6)))

    listed = await api.request("GET", "/files")

    assert [item["id"] for item in listed.body["results"]] == [second["id"], first["id"]]


async def test_an_expired_file_is_404_and_no_longer_an_input(api, session):
    async with ReplicateEmulator(file_ttl=0.05) as emu:
        form = aiohttp.FormData()
        form.add_field("content", api.png(), filename="a.png", content_type="image/png")
        headers = {"Authorization": f"Bearer {emu.api_token}"}
        async with session.post(f"{emu.base_url}/files", data=form, headers=headers) as r:
            created = await r.json()
        await asyncio.sleep(0.1)
        async with session.get(created["urls"]["get"], headers=headers) as r:
            assert r.status == 404
        body = {"input": {"prompt": "x", "input_image": created["urls"]["get"]}}
        async with session.post(
            f"{emu.base_url}/models/{FLUX_KONTEXT_PRO}/predictions",
            json=body,
            headers={**headers, "Prefer": "wait=5"},
        ) as r:
            prediction = await r.json()
        assert prediction["status"] == "failed"
        assert "does not exist" in prediction["error"]
        assert emu.counters.files_live == 0


async def test_an_upload_over_the_limit_is_413(session):
    async with ReplicateEmulator(max_upload_bytes=1000) as emu:
        form = aiohttp.FormData()
        form.add_field("content", b"x" * 1001, filename="big.bin")
        async with session.post(
            f"{emu.base_url}/files",
            data=form,
            headers={"Authorization": f"Bearer {emu.api_token}"},
        ) as response:
            assert response.status == 413
            assert response.content_type == "application/problem+json"
        assert emu.counters.files_created == 0


def test_the_default_limit_is_replicates_100_mib():
    assert MAX_UPLOAD_BYTES == 100 * 1024 * 1024


async def test_an_upload_without_content_or_with_bad_metadata_is_400(api):
    form = aiohttp.FormData()
    form.add_field("metadata", "{}")
    async with api.session.post(
        f"{api.emulator.base_url}/files", data=form, headers=api.headers()
    ) as response:
        assert response.status == 400
    status, _ = await api.upload(api.png(), metadata=None)
    assert status == 201
    form = aiohttp.FormData()
    form.add_field("content", api.png(), filename="a.png")
    form.add_field("metadata", "{not json")
    async with api.session.post(
        f"{api.emulator.base_url}/files", data=form, headers=api.headers()
    ) as response:
        assert response.status == 400


async def test_a_filename_over_255_bytes_is_refused(api):
    status, body = await api.upload(api.png(), name="é" * 128 + ".png")

    assert status == 422
    assert "255" in body["detail"]


async def test_the_files_api_needs_the_token(api):
    reply = await api.request("GET", "/files", headers={})

    assert reply.status == 401


@pytest.mark.parametrize("route", [Route.FILES_CREATE, Route.FILES_DELETE])
async def test_files_routes_take_scripted_errors(api, emulator, route):
    _, created = await api.upload(api.png())
    emulator.script(Fault.http_error(500, route=route))

    if route is Route.FILES_CREATE:
        status, _ = await api.upload(api.png())
    else:
        status = (await api.request("DELETE", f"/files/{created['id']}")).status

    assert status == 500


async def test_a_malformed_upload_reply_can_still_create_the_file(api, emulator):
    emulator.script(
        Fault.malformed_reply("<html>", after_processing=True, route=Route.FILES_CREATE)
    )

    form = aiohttp.FormData()
    form.add_field("content", api.png(), filename="a.png", content_type="image/png")
    async with api.session.post(
        f"{emulator.base_url}/files", data=form, headers=api.headers()
    ) as response:
        assert response.status == 201
        assert await response.text() == "<html>"

    assert emulator.counters.files_created == 1
    assert emulator.counters.files_live == 1


async def test_a_files_route_can_reset_the_connection(api, emulator):
    emulator.script(Fault.connection_reset(route=Route.FILES_GET), times=2)
    _, created = await api.upload(api.png())

    with pytest.raises(aiohttp.ClientError):
        await api.request("GET", f"/files/{created['id']}")
