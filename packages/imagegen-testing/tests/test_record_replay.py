"""The whole cassette cycle through the suite: record against the emulator, replay offline.

A deliberately small backend speaking Replicate's API (through an aiohttp
``base_url`` session, the case vcrpy's stub gets wrong) is recorded with
``--record-mode=once`` through :class:`ReplicateProvider`, then replayed with
``--record-mode=none --block-network``: no emulator, no socket.
"""

import pytest
import yaml

from imagegen_testing.emulator import EMULATOR_API_TOKEN
from imagegen_testing.vcr import find_secrets_in_cassette
from imagegen_testing.vcr.shrink import SMALL_ENOUGH

MINI_BACKEND = """
import asyncio
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from imagegen_core import (
    BackendSettings, Capabilities, ErrorKind, GeneratedImage, ImageBackend, ImageGenError,
    OutputFormat, finish_cleanup,
)
from imagegen_testing.conformance import BackendConformance, ReplicateProvider


class MiniSettings(BackendSettings):
    api_token: SecretStr = SecretStr("replay-token-0000")
    base_url: str = "https://api.replicate.com/v1"


class MiniReplicate(ImageBackend[MiniSettings]):
    name = "mini-replicate"
    settings_model = MiniSettings

    @property
    def capabilities(self):
        return Capabilities(
            max_images_per_call=2,
            aspect_ratios=frozenset({"1:1", "16:9"}),
            supports_seed=True,
            output_formats=frozenset({OutputFormat.PNG}),
        )

    async def _generate(self, request):
        token = self.settings.api_token.get_secret_value()
        base = self.settings.base_url.rstrip("/") + "/"
        inputs = {"prompt": request.prompt, "num_outputs": request.num_images,
                  "megapixels": "0.25", "output_format": "png", "num_inference_steps": 1}
        if request.aspect_ratio:
            inputs["aspect_ratio"] = request.aspect_ratio
        if request.seed is not None:
            inputs["seed"] = request.seed
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base_url=base, headers=headers) as session:
            path = "models/black-forest-labs/flux-schnell/predictions"
            async with session.post(path, json={"input": inputs}) as reply:
                if reply.status == 401:
                    raise ImageGenError("token rejected", kind=ErrorKind.AUTHENTICATION)
                prediction = await reply.json()
            try:
                while prediction["status"] in ("starting", "processing"):
                    await asyncio.sleep(0.05)
                    async with session.get(f"predictions/{prediction['id']}") as reply:
                        prediction = await reply.json()
            except asyncio.CancelledError:
                await finish_cleanup(session.post(f"predictions/{prediction['id']}/cancel"))
                raise
        if prediction["status"] != "succeeded":
            raise ImageGenError(str(prediction["error"]), kind=ErrorKind.SERVER)
        for index, url in enumerate(prediction["output"]):
            yield GeneratedImage(url=url, media_type="image/png", index=index)


class TestMiniReplicate(BackendConformance):
    backend = MiniReplicate
    invalid_auth_settings = {"api_token": "wrong-token-0000"}
    failure_kind = ErrorKind.SERVER
    cassette_dir = Path(__file__).parent / "cassettes"
    vcr_overrides = VCR_OVERRIDES

    def live_provider(self):
        return ReplicateProvider(environ={})
"""

SELECT = ("-k", "not entry_point and not selectable and not pipecat")
NETWORK_TESTS = {
    "test_generate_one",
    "test_generate_several",
    "test_unsupported_setting_warns",
    "test_authentication_error",
    "test_failure_error_kind",
    "test_cancellation",
    "test_secrets_stay_secret",
}


@pytest.fixture
def mini(suite_pytester: pytest.Pytester) -> pytest.Pytester:
    suite_pytester.makepyfile(test_mini=MINI_BACKEND.replace("VCR_OVERRIDES", "{}"))
    return suite_pytester


def test_record_against_the_emulator_then_replay_offline(mini: pytest.Pytester) -> None:
    recorded = mini.runpytest_inprocess("-p", "no:cacheprovider", "--record-mode=once", *SELECT)
    recorded.assert_outcomes(passed=15, skipped=2)  # text only, no progress
    cassettes = {p.stem: p for p in (mini.path / "cassettes").glob("*.yaml")}
    assert set(cassettes) == NETWORK_TESTS

    for path in cassettes.values():
        text = path.read_text()
        assert "127.0.0.1" not in text, f"{path.name} still names the emulator"
        assert find_secrets_in_cassette(path, [EMULATOR_API_TOKEN, "wrong-token-0000"]) == []
        for interaction in yaml.safe_load(text)["interactions"]:
            assert interaction["request"]["uri"].startswith(
                ("https://api.replicate.com/v1/", "https://replicate.delivery/")
            )
            body = interaction["response"]["body"].get("string") or b""
            assert len(body) <= SMALL_ENOUGH, f"{path.name}: a {len(body)}-byte body was not shrunk"
    cancel = yaml.safe_load(cassettes["test_cancellation"].read_text())["interactions"]
    assert cancel[-1]["request"]["uri"].endswith("/cancel")

    replayed = mini.runpytest_inprocess(
        "-p", "no:cacheprovider", "--record-mode=none", "--block-network", *SELECT
    )
    replayed.assert_outcomes(passed=15, skipped=2)


def test_a_cassette_that_still_holds_a_secret_is_deleted_and_fails(
    suite_pytester: pytest.Pytester,
) -> None:
    # A backend's own hook that writes a token back in, after the scrubber ran.
    leak = (
        '{"before_record_response": lambda r: {**r, "headers": '
        '{**r["headers"], "X-Debug": ["Bearer r8_LeakedAfterScrubbing000"]}}}'
    )
    suite_pytester.makepyfile(test_mini=MINI_BACKEND.replace("VCR_OVERRIDES", leak))
    result = suite_pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--record-mode=once", "-k", "test_generate_one"
    )
    result.assert_outcomes(passed=1, errors=1)
    assert "held credentials and was deleted" in result.stdout.str()
    assert "r8_LeakedAfterScrubbing000" not in "\n".join(
        line for line in result.outlines if line.startswith(("E ", "ERROR"))
    )
    assert not (suite_pytester.path / "cassettes" / "test_generate_one.yaml").exists()
