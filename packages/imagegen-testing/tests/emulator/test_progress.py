"""Progress while processing: tqdm lines in logs, and previews from an iterator model."""

from __future__ import annotations

import asyncio
import re

from imagegen_testing.emulator import PREVIEW_STREAM, SDXL_VERSION, Latency, ReplicateEmulator

TQDM = re.compile(r"^\s*(\d+)%\|[\u2588 ]{10}\| (\d+)/(\d+) \[")


async def test_sdxl_logs_a_tqdm_line_per_step_while_processing(session):
    async with ReplicateEmulator(latency=Latency(predict=0.4)) as emu:
        headers = {"Authorization": f"Bearer {emu.api_token}"}
        body = {
            "version": SDXL_VERSION,
            "input": {"width": 32, "height": 32, "num_inference_steps": 4},
        }
        async with session.post(f"{emu.base_url}/predictions", json=body, headers=headers) as r:
            created = await r.json()
        seen: list[list[int]] = []
        while True:
            async with session.get(created["urls"]["get"], headers=headers) as r:
                prediction = await r.json()
            percents = [
                int(m[1]) for line in prediction["logs"].splitlines() if (m := TQDM.match(line))
            ]
            seen.append(percents)
            if prediction["status"] not in {"starting", "processing"}:
                break
            await asyncio.sleep(0.05)

    assert prediction["status"] == "succeeded"
    assert seen[-1] == [0, 25, 50, 75, 100]
    # Some poll saw the prediction half-way: progress grows while it runs.
    assert any(0 < len(percents) < 5 for percents in seen)


async def test_the_iterator_model_yields_previews_before_its_image(session):
    async with ReplicateEmulator(latency=Latency(predict=0.3)) as emu:
        headers = {"Authorization": f"Bearer {emu.api_token}"}
        body = {
            "input": {
                "prompt": "x",
                "num_inference_steps": 6,
                "preview_every": 2,
                "output_format": "jpg",
            }
        }
        async with session.post(
            f"{emu.base_url}/models/{PREVIEW_STREAM}/predictions", json=body, headers=headers
        ) as r:
            created = await r.json()
        counts_while_running = set()
        while True:
            async with session.get(created["urls"]["get"], headers=headers) as r:
                prediction = await r.json()
            if prediction["status"] in {"starting", "processing"}:
                counts_while_running.add(len(prediction["output"] or []))
            else:
                break
            await asyncio.sleep(0.02)
        record = emu.predictions[created["id"]]

    assert prediction["status"] == "succeeded"
    assert len(prediction["output"]) == 3  # previews after steps 2 and 4, then the image
    assert counts_while_running & {1, 2}
    assert len(set(record.files)) == 3
