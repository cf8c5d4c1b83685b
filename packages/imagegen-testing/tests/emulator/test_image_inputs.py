"""Image inputs: what each model reads from data:, files API and delivery URLs, and refuses."""

from __future__ import annotations

import pytest

from imagegen_testing.emulator import (
    FLUX_2_PRO,
    FLUX_KONTEXT_PRO,
    NANO_BANANA,
    SDXL,
    SDXL_VERSION,
)


async def _run(api, model, input, **headers):
    return await api.create(input, path=f"/models/{model}/predictions", Prefer="wait=5", **headers)


async def test_kontext_reads_input_image_from_a_data_url_and_matches_its_size(api, emulator):
    image = api.png((48, 32))

    reply = await _run(
        api, FLUX_KONTEXT_PRO, {"prompt": "at night", "input_image": api.data_url(image)}
    )

    assert reply.body["status"] == "succeeded"
    assert isinstance(reply.body["output"], str)  # one URL, as the real schema's Output says
    record = emulator.predictions[reply.body["id"]]
    assert record.received == {"input_image": [image]}
    _, _, data = await api.download(reply.body["output"])
    assert api.decode(data).size == (48, 32)


async def test_an_edit_differs_from_the_same_prompt_without_an_image(api):
    plain = await _run(api, FLUX_KONTEXT_PRO, {"prompt": "p", "seed": 1, "aspect_ratio": "1:1"})
    edited = await _run(
        api,
        FLUX_KONTEXT_PRO,
        {"prompt": "p", "seed": 1, "aspect_ratio": "1:1", "input_image": api.data_url(api.png())},
    )

    assert (await api.download(plain.body["output"]))[2] != (
        await api.download(edited.body["output"])
    )[2]


async def test_a_previous_output_url_is_a_valid_input(api, emulator):
    first = await api.create({**api.SMALL}, Prefer="wait=5")
    url = first.body["output"][0]

    reply = await _run(api, FLUX_KONTEXT_PRO, {"prompt": "edit", "input_image": url})

    assert reply.body["status"] == "succeeded"
    assert emulator.predictions[reply.body["id"]].received["input_image"] == [
        emulator.predictions[first.body["id"]].files[0]
    ]


async def test_an_uploaded_file_is_read_through_its_url(api, emulator):
    image = api.png((20, 20))
    _, created = await api.upload(image, name="in.png")

    reply = await _run(api, NANO_BANANA, {"prompt": "x", "image_input": [created["urls"]["get"]]})

    assert reply.body["status"] == "succeeded"
    assert emulator.predictions[reply.body["id"]].received == {"image_input": [image]}


async def test_several_images_arrive_in_order(api, emulator):
    images = [api.png(colour=(i, i, i)) for i in (1, 2, 3)]

    reply = await _run(
        api, NANO_BANANA, {"prompt": "x", "image_input": [api.data_url(i) for i in images]}
    )

    assert emulator.predictions[reply.body["id"]].received == {"image_input": images}


async def test_flux_2_pro_fails_on_more_than_its_prose_limit(api):
    nine = [api.data_url(api.png(colour=(i, 0, 0))) for i in range(9)]

    reply = await _run(api, FLUX_2_PRO, {"prompt": "x", "input_images": nine})

    assert reply.status == 201
    assert reply.body["status"] == "failed"
    assert "at most 8" in reply.body["error"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("data:image/png;base64,@@@", "not valid base64"),
        ("data:image/png;base64,bm90IGFuIGltYWdl", "cannot identify image file"),
        ("https://example.com/cat.png", "fetches only its own files"),
    ],
)
async def test_an_unreadable_input_fails_the_prediction_naming_it(api, value, message):
    reply = await _run(api, FLUX_KONTEXT_PRO, {"prompt": "x", "input_image": value})

    assert reply.body["status"] == "failed"
    assert reply.body["error"].startswith("input_image: ")
    assert message in reply.body["error"]


async def test_a_non_uri_string_is_a_422(api, emulator):
    reply = await _run(api, FLUX_KONTEXT_PRO, {"prompt": "x", "input_image": "just words"})

    assert reply.status == 422
    assert reply.body["invalid_fields"][0] == {
        "type": "format",
        "field": "input.input_image",
        "description": "Does not match format 'uri'",
    }
    assert emulator.counters.predictions_created == 0


async def _sdxl(api, **input):
    return await api.request(
        "POST",
        "/predictions",
        json={
            "version": SDXL_VERSION,
            "input": {"prompt": "x", "width": 32, "height": 32, **input},
        },
        headers=api.headers(Prefer="wait=5"),
    )


async def test_sdxl_takes_an_image_and_a_mask_of_the_same_size(api, emulator):
    image, mask = api.png((32, 32)), api.png((32, 32), (255, 255, 255))

    reply = await _sdxl(
        api, image=api.data_url(image), mask=api.data_url(mask), num_inference_steps=2
    )

    assert reply.body["status"] == "succeeded"
    assert reply.body["model"] == SDXL
    assert emulator.predictions[reply.body["id"]].received == {"image": [image], "mask": [mask]}


async def test_sdxl_refuses_a_mask_without_an_image_or_of_another_size(api):
    alone = await _sdxl(api, mask=api.data_url(api.png((32, 32))), num_inference_steps=1)
    unequal = await _sdxl(
        api,
        image=api.data_url(api.png((32, 32))),
        mask=api.data_url(api.png((16, 16))),
        num_inference_steps=1,
    )

    assert alone.body["status"] == unequal.body["status"] == "failed"
    assert "needs an image" in alone.body["error"]
    assert "must match" in unequal.body["error"]
