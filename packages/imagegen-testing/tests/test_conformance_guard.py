"""The guard: standard tests can only be opted out of with xfail and a reason."""

import pytest

from imagegen_testing.conformance import BackendConformance, find_tampering, standard_test_names


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
