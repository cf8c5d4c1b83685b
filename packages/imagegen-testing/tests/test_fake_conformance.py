"""The fake backend passes the whole conformance suite (it needs no network, so no cassettes)."""

from typing import Any

from imagegen_core import ErrorKind, ImageBackend
from imagegen_testing.conformance import BackendConformance, ConformanceRun
from imagegen_testing.fake import FakeBackend


class TestFakeConformance(BackendConformance):
    backend = "fake"
    test_double = True
    backend_settings = {"pixels": 64 * 64}
    invalid_auth_settings = {"api_key": "wrong-key-0000"}
    failure_settings = {"fail_with": ErrorKind.SERVER}
    failure_kind = ErrorKind.SERVER
    slow_settings = {"latency": 30.0}
    reports_progress = True
    progress_settings = {"progress_steps": 3, "progress_previews": True}

    def remote_jobs_running(self, backend: ImageBackend[Any], run: ConformanceRun) -> int | None:
        assert isinstance(backend, FakeBackend)
        return backend.jobs_running

    def input_images_received(self, backend: ImageBackend[Any], run: ConformanceRun) -> int | None:
        assert isinstance(backend, FakeBackend)
        return len(backend.requests[-1].images) if backend.requests else 0


class TestFakeConformanceByClass(TestFakeConformance):
    """The same backend named by its class instead of its entry point."""

    backend = FakeBackend
