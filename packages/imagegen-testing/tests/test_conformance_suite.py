"""The suite judges backends: it passes a conformant one and fails each kind of misbehaviour.

Each check runs a small pytest session (pytester, in process) on a generated
test module, so what is asserted is what an author would see.
"""

import pytest

BROKEN_BACKENDS = '''
import asyncio
import dataclasses
import logging

from imagegen_core import Capabilities, ErrorKind, ImageGenError, OutputFormat
from imagegen_testing.conformance import BackendConformance
from imagegen_testing.fake import FAKE_VALID_API_KEY, FakeBackend


class LimitedFake(FakeBackend):
    """Honest about honouring less: no negative prompt, two ratios, PNG only."""

    @property
    def capabilities(self):
        return Capabilities(
            max_images_per_call=2,
            aspect_ratios=frozenset({"1:1", "16:9"}),
            supports_seed=True,
            supports_size=True,
            supports_quality=True,
            output_formats=frozenset({OutputFormat.PNG}),
        )


class SwallowsCancel(FakeBackend):
    async def _generate(self, request):
        try:
            async for item in super()._generate(request):
                yield item
        except asyncio.CancelledError:
            return


class LeavesTask(FakeBackend):
    async def _generate(self, request):
        asyncio.get_running_loop().create_task(asyncio.sleep(30), name="forgotten-poller")
        async for item in super()._generate(request):
            yield item


class LeavesRemoteJob(FakeBackend):
    remote = 0

    async def _generate(self, request):
        type(self).remote += 1
        await asyncio.sleep(self.settings.latency)
        type(self).remote -= 1
        async for item in super()._generate(request):
            yield item


class LiesAboutFormat(FakeBackend):
    def _image(self, request, index, job_id):
        jpeg = request.model_copy(update={"output_format": OutputFormat.JPEG})
        return dataclasses.replace(super()._image(jpeg, index, job_id), media_type=None)


class LogsItsKey(FakeBackend):
    async def _generate(self, request):
        logging.getLogger("chatty").debug("key=%s", self.settings.api_key.get_secret_value())
        async for item in super()._generate(request):
            yield item


class IgnoresImages(FakeBackend):
    """Takes input images, then draws from the prompt alone."""

    async def _generate(self, request):
        async for item in super()._generate(request.model_copy(update={"images": ()})):
            yield item


class StripsInputs(FakeBackend):
    """Declares no input images, then drops them instead of refusing."""

    @property
    def capabilities(self):
        return Capabilities(max_images_per_call=4, supports_seed=True)

    def generate(self, request, *, strict=False):
        stripped = request.model_copy(update={"images": (), "mask": None})
        return super().generate(stripped, strict=strict)


class PreviewsAsResults(FakeBackend):
    """Hands its previews on as images."""

    async def _generate(self, request):
        async for item in super()._generate(request):
            if getattr(item, "preview", None) is not None:
                yield item.preview
            else:
                yield item


class WrongAuthKind(FakeBackend):
    async def _generate(self, request):
        if self.settings.api_key.get_secret_value() != FAKE_VALID_API_KEY:
            raise ImageGenError("no", kind=ErrorKind.UNKNOWN)
        async for item in super()._generate(request):
            yield item


class Base(BackendConformance):
    invalid_auth_settings = {"api_key": "wrong-key-0000"}
    slow_settings = {"latency": 30.0}
    cancel_timeout = 3.0
    reports_progress = True
    progress_settings = {"progress_steps": 2, "progress_previews": True}

    def remote_jobs_running(self, backend, run):
        return getattr(type(backend), "remote", backend.jobs_running)

    def input_images_received(self, backend, run):
        return len(backend.requests[-1].images)


class TestLimited(Base):
    backend = LimitedFake

class TestSwallowsCancel(Base):
    backend = SwallowsCancel

class TestLeavesTask(Base):
    backend = LeavesTask

class TestLeavesRemoteJob(Base):
    backend = LeavesRemoteJob

class TestLiesAboutFormat(Base):
    backend = LiesAboutFormat

class TestLogsItsKey(Base):
    backend = LogsItsKey

class TestWrongAuthKind(Base):
    backend = WrongAuthKind

class TestIgnoresImages(Base):
    backend = IgnoresImages

class TestStripsInputs(Base):
    backend = StripsInputs

class TestPreviewsAsResults(Base):
    backend = PreviewsAsResults

class TestReportsNothing(Base):
    backend = FakeBackend
    progress_settings = {}
'''


@pytest.fixture
def broken(suite_pytester: pytest.Pytester) -> pytest.Pytester:
    suite_pytester.makepyfile(test_broken=BROKEN_BACKENDS)
    return suite_pytester


def test_limited_capabilities_run_the_warning_and_validation_tests(broken: pytest.Pytester) -> None:
    result = broken.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "-k",
        "TestLimited and not pipecat and not entry_point and not selectable and not failure",
    )
    result.assert_outcomes(passed=15, skipped=1)  # no input images: the edit test skips


@pytest.mark.parametrize(
    ("case", "test", "message"),
    [
        (
            "TestSwallowsCancel",
            "test_cancellation",
            "cancellation must propagate as CancelledError",
        ),
        ("TestLeavesTask", "test_cancellation", "tasks left running after cancellation"),
        ("TestLeavesRemoteJob", "test_cancellation", "1 remote job(s) still running"),
        (
            "TestLiesAboutFormat",
            "test_generate_one",
            "asked for png (the backend offers it) but got JPEG",
        ),
        (
            "TestLogsItsKey",
            "test_secrets_stay_secret",
            "credentials leaked: known secret #1 in stdlib logs",
        ),
        ("TestWrongAuthKind", "test_authentication_error", "wrong kind"),
        (
            "TestIgnoresImages",
            "test_edit_sends_the_input_image",
            "the provider's model read 0 of the 1 input image sent",
        ),
        (
            "TestStripsInputs",
            "test_inputs_beyond_capabilities_are_refused",
            "1 input image(s) beyond the declared capabilities must fail as invalid_request",
        ),
        (
            "TestPreviewsAsResults",
            "test_progress_between_images",
            "asked for one image, got 3",
        ),
        (
            "TestReportsNothing",
            "test_progress_between_images",
            "reports_progress is set, but no GenerationProgress came",
        ),
    ],
)
def test_misbehaviour_fails_the_standard_test_that_covers_it(
    broken: pytest.Pytester, case: str, test: str, message: str
) -> None:
    result = broken.runpytest_inprocess("-p", "no:cacheprovider", f"test_broken.py::{case}::{test}")
    result.assert_outcomes(failed=1)
    assert message in result.stdout.str()
    # (pytest itself shows what the backend logged; the suite's own messages must not leak)
    failure = [line for line in result.outlines if line.startswith(("E ", "FAILED"))]
    assert failure
    assert not any("fake-valid-key" in line for line in failure), "the failure leaked the secret"


NEEDS_CASSETTES = """
from pathlib import Path
from imagegen_testing.conformance import BackendConformance

class TestRecorded(BackendConformance):
    backend = "fake"
    cassette_dir = Path(__file__).parent / "cassettes"
"""
"""A conformance class whose cassette directory is empty."""


def test_missing_cassette_skips_with_the_command_that_records_it(
    suite_pytester: pytest.Pytester,
) -> None:
    pytester = suite_pytester
    pytester.makepyfile(test_needs_cassettes=NEEDS_CASSETTES)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-rs", "-k", "generate_one or request_validation"
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED*no cassette test_generate_one.yaml in cassettes; record it with: "
            "python -m pytest test_needs_cassettes.py::TestRecorded::test_generate_one "
            "--record-mode=once"
        ]
    )


@pytest.mark.parametrize(
    "how",
    [("--imagegen-require-cassettes",), ("-o", "imagegen_require_cassettes=true")],
    ids=["option", "ini"],
)
def test_a_missing_cassette_fails_where_cassettes_are_required(
    suite_pytester: pytest.Pytester, how: tuple[str, ...]
) -> None:
    pytester = suite_pytester
    pytester.makepyfile(test_needs_cassettes=NEEDS_CASSETTES)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", *how, "-k", "generate_one or generate_several"
    )
    # Failed in the cassette fixture, so pytest counts them as errors, not skips.
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*no cassette test_generate_one.yaml in cassettes; record it with:*"
            "(cassettes are required here)"
        ]
    )


LIMITED_BACKEND = """
from pathlib import Path

from imagegen_core import ErrorKind
from imagegen_testing.conformance import BackendConformance, LiveProvider, Scenario


class NoFailuresOnCue(LiveProvider):
    async def start(self, scenario):
        return {}

    async def stop(self):
        pass

    def cannot_run(self, scenario):
        return "this service cannot fail on cue" if scenario is Scenario.FAILURE else None


class TestOneAtATime(BackendConformance):
    backend = "fake"
    backend_settings = {"max_images_per_call": 1}
    cassette_dir = Path(__file__).parent / "cassettes"


class TestNotOnCue(BackendConformance):
    backend = "fake"
    failure_settings = {"fail_with": "server"}
    failure_kind = ErrorKind.SERVER
    cassette_dir = Path(__file__).parent / "cassettes"

    def live_provider(self):
        return NoFailuresOnCue()
"""

NOT_APPLICABLE = {
    "test_generate_several": "the backend returns one image per call",
    "test_authentication_error": "invalid_auth_settings is not set",
    "test_failure_error_kind": "failure_kind is not set",
    "test_unsupported_setting_warns": "the backend honours every generic request setting",
}


@pytest.mark.parametrize("record_mode", ["none", "once"])
def test_what_a_backend_cannot_do_skips_without_asking_for_a_cassette(
    suite_pytester: pytest.Pytester, record_mode: str
) -> None:
    suite_pytester.makepyfile(test_limited=LIMITED_BACKEND)
    result = suite_pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "-rs",
        f"--record-mode={record_mode}",
        "-k",
        "TestOneAtATime and (" + " or ".join(NOT_APPLICABLE) + ")",
    )
    result.assert_outcomes(skipped=len(NOT_APPLICABLE))
    skips = [line for line in result.outlines if line.startswith("SKIPPED")]
    for reason in NOT_APPLICABLE.values():
        assert any(reason in line for line in skips), (reason, skips)
    assert not any("record it with" in line for line in skips), skips
    assert not (suite_pytester.path / "cassettes").exists()


def test_a_scenario_the_provider_cannot_record_skips_and_keeps_its_cassette(
    suite_pytester: pytest.Pytester,
) -> None:
    suite_pytester.makepyfile(test_limited=LIMITED_BACKEND)
    kept = suite_pytester.path / "cassettes" / "test_failure_error_kind.yaml"
    kept.parent.mkdir()
    kept.write_text("interactions: []\nversion: 1\n")
    # rewrite mode deletes a cassette as it opens it; the skip must come first.
    result = suite_pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-rs", "--record-mode=rewrite", "-k", "TestNotOnCue and failure"
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED*NoFailuresOnCue cannot record failure: this service cannot fail on cue"]
    )
    assert kept.exists()
