"""The guard: standard tests can only be opted out of with xfail and a reason."""

import pytest

from imagegen_testing.conformance import BackendConformance, find_tampering, standard_test_names
from imagegen_testing.conformance.guard import machinery_names


def test_every_standard_test_is_known_to_the_guard() -> None:
    names = standard_test_names(BackendConformance)
    assert names[0] == "test_no_overrides_DO_NOT_OVERRIDE"
    assert {"test_generate_one", "test_cancellation", "test_pipecat_round_trip"} <= set(names)
    assert all(name.startswith("test") for name in names)


def test_an_untouched_subclass_passes() -> None:
    class Untouched(BackendConformance):
        backend = "fake"

        def test_extra_of_my_own(self) -> None:
            """Authors may add tests freely."""

    assert find_tampering(Untouched, BackendConformance) == []


def test_silent_override_and_removal_are_reported() -> None:
    class Tampered(BackendConformance):
        backend = "fake"
        test_generate_one = None  # type: ignore[assignment]

        async def test_cancellation(self) -> None:  # type: ignore[override]
            """Passes without checking anything."""

    problems = find_tampering(Tampered, BackendConformance)
    assert len(problems) == 2
    assert any("test_generate_one was removed" in p for p in problems)
    assert any("test_cancellation was overridden" in p and "xfail" in p for p in problems)


def test_xfail_with_a_reason_is_the_only_opt_out() -> None:
    class OptedOut(BackendConformance):
        backend = "fake"

        @pytest.mark.xfail(reason="this provider cannot cancel a job once queued")
        async def test_cancellation(self) -> None:  # type: ignore[override]
            raise AssertionError("cannot cancel")

    class NoReason(BackendConformance):
        backend = "fake"

        @pytest.mark.xfail
        async def test_cancellation(self) -> None:  # type: ignore[override]
            raise AssertionError("cannot cancel")

    class GuardOptedOut(BackendConformance):
        backend = "fake"

        @pytest.mark.xfail(reason="please")
        def test_no_overrides_DO_NOT_OVERRIDE(self) -> None:
            pass

    assert find_tampering(OptedOut, BackendConformance) == []
    assert "without a reason" in find_tampering(NoReason, BackendConformance)[0]
    assert "guard itself" in find_tampering(GuardOptedOut, BackendConformance)[0]


def test_machinery_is_helpers_and_fixtures_not_settings_or_extension_points() -> None:
    names = set(machinery_names(BackendConformance))
    assert {"check_images", "collect", "make_backend", "imagegen_run", "vcr_config"} <= names
    assert {"default_cassette_name", "vcr_cassette_dir", "backend_name"} <= names
    assert not names & {"live_provider", "remote_jobs_running"}
    assert not names & {"backend_settings", "cancel_timeout", "prompt", "cassette_dir"}


def test_overriding_the_machinery_is_tampering_too() -> None:
    class Neutered(BackendConformance):
        backend = "fake"
        backend_settings = {"pixels": 32 * 32}  # settings are what subclasses change
        cancel_timeout = 3.0

        async def check_images(self, images, request, capabilities):  # type: ignore[no-untyped-def]
            """Checks nothing, so every generation test would pass."""

        def vcr_config(self):  # type: ignore[no-untyped-def]
            return {}  # no scrubbing

        def live_provider(self):  # type: ignore[no-untyped-def]
            return None  # an extension point: allowed

        def remote_jobs_running(self, backend, run):  # type: ignore[no-untyped-def]
            return 0  # an extension point: allowed

    problems = find_tampering(Neutered, BackendConformance)
    assert len(problems) == 2, problems
    assert any(p.startswith("check_images was overridden") for p in problems)
    assert any(p.startswith("vcr_config was overridden") for p in problems)


def test_pytest_reports_tampering_and_guards_the_guard(suite_pytester: pytest.Pytester) -> None:
    pytester = suite_pytester
    pytester.makepyfile(
        test_tampered="""
        import pytest
        from imagegen_testing.conformance import BackendConformance

        class TestOverridesOne(BackendConformance):
            backend = "fake"

            async def test_request_validation(self):
                pass

        class TestOverridesGuard(BackendConformance):
            backend = "fake"

            def test_no_overrides_DO_NOT_OVERRIDE(self):
                pass
        """
    )
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-k", "DO_NOT_OVERRIDE or capabilities_declared"
    )
    # The overridden standard test fails the guard; an overridden guard errors
    # every test of its class, from a plugin fixture the class cannot reach.
    result.assert_outcomes(passed=1, failed=1, errors=2)
    output = result.stdout.str()
    assert "test_request_validation was overridden" in output
    assert "TestOverridesGuard overrides or removes test_no_overrides_DO_NOT_OVERRIDE" in output
