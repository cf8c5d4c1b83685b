"""Outputs are real images: right format and size, deterministic, distinct."""

from __future__ import annotations

import pytest

from imagegen_testing.emulator import image_size


async def outputs(api, input):
    created = await api.create(input, Prefer="wait=10")
    assert created.body["status"] == "succeeded", created.body
    files = []
    for url in created.body["output"]:
        status, content_type, data = await api.download(url)
        assert status == 200
        files.append((content_type, data))
    return files


@pytest.mark.parametrize(
    ("output_format", "media_type", "pil_format"),
    [("webp", "image/webp", "WEBP"), ("jpg", "image/jpeg", "JPEG"), ("png", "image/png", "PNG")],
)
async def test_files_decode_in_the_requested_format(api, output_format, media_type, pil_format):
    ((content_type, data),) = await outputs(api, {**api.SMALL, "output_format": output_format})

    assert content_type == media_type
    image = api.decode(data)
    assert image.format == pil_format
    assert image.size == (512, 512)


@pytest.mark.parametrize("ratio", ["16:9", "9:21", "4:5"])
async def test_file_size_follows_aspect_ratio_and_megapixels(api, ratio):
    ((_, data),) = await outputs(api, {**api.SMALL, "aspect_ratio": ratio})

    assert api.decode(data).size == image_size(ratio, "0.25")


async def test_one_megapixel_square_is_1024(api):
    ((_, data),) = await outputs(api, {"prompt": "x", "output_format": "jpg"})

    assert api.decode(data).size == (1024, 1024)


async def test_same_seed_and_prompt_give_the_same_bytes(api):
    input = {**api.SMALL, "seed": 1234, "num_outputs": 2}

    first = await outputs(api, input)
    second = await outputs(api, input)

    assert first == second
    assert first[0] != first[1]  # each output of a prediction is its own picture


async def test_different_prompts_give_different_pictures(api):
    cat = await outputs(api, {**api.SMALL, "seed": 1, "prompt": "a cat"})
    dog = await outputs(api, {**api.SMALL, "seed": 1, "prompt": "a dog"})

    assert api.decode(cat[0][1]).tobytes() != api.decode(dog[0][1]).tobytes()


async def test_without_a_seed_the_seed_is_random_and_logged(api, emulator):
    first = (await api.create(api.SMALL, Prefer="wait=10")).body
    second = (await api.create(api.SMALL, Prefer="wait=10")).body

    seeds = [emulator.predictions[body["id"]].seed for body in (first, second)]
    assert seeds[0] != seeds[1]
    assert f"Using seed: {seeds[0]}" in first["logs"]


async def test_num_outputs_gives_that_many_files(api):
    files = await outputs(api, {**api.SMALL, "num_outputs": 4})

    assert len(files) == 4
    assert len({data for _, data in files}) == 4


async def test_quality_changes_lossy_files(api):
    low = await outputs(api, {**api.SMALL, "seed": 5, "output_quality": 5})
    high = await outputs(api, {**api.SMALL, "seed": 5, "output_quality": 95})

    assert len(low[0][1]) < len(high[0][1])
