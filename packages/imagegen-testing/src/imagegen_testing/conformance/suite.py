"""The standard tests every imagegen backend must pass, as one class to subclass."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
import pytest_asyncio

from imagegen_core import (
    DEFAULT_CLEANUP_TIMEOUT,
    MAX_IMAGES_PER_REQUEST,
    MAX_INPUT_IMAGES,
    BackendSettings,
    Capabilities,
    ErrorKind,
    GeneratedImage,
    Generation,
    GenerationProgress,
    ImageBackend,
    ImageGenError,
    ImageRequest,
    ImageRole,
    InputImage,
    OutputFormat,
    WarningKind,
)
from imagegen_testing.conformance.checks import (
    check_image,
    decode_image,
    fail_on_secrets,
    fetch_image_bytes,
    secrets_in_error,
    unsupported_setting,
)
from imagegen_testing.conformance.guard import find_tampering
from imagegen_testing.conformance.providers import LiveProvider
from imagegen_testing.conformance.run import ConformanceRun
from imagegen_testing.conformance.scenarios import Scenario
from imagegen_testing.conformance.shapes import ApiShape
from imagegen_testing.pytest_plugin import cassettes_required, passed
from imagegen_testing.vcr import (
    CassetteScrubber,
    find_secrets_in_cassette,
    missing_cassette_message,
    resolve_aiohttp_base_url,
    shared_vcr_config,
)

__all__ = ["LOOPBACK_HOSTS", "BackendConformance"]

LOOPBACK_HOSTS = (r"127\.0\.0\.1$", r"::1$", r"localhost$")
"""Host patterns (pytest-recording's ``--allowed-hosts`` regexes) of this machine's loopback."""

_SCENARIO_MARK = "imagegen_scenario"
_ODD_RATIOS = ("7:3", "17:5", "1:7", "13:11", "31:29")  # no backend offers all of these


_TestT = TypeVar("_TestT", bound=Callable[..., Any])


def _network(scenario: Scenario) -> Callable[[_TestT], _TestT]:
    """Mark a standard test as network-bound: it replays (or records) its own cassette."""

    def mark(function: _TestT) -> _TestT:
        for marker in (
            pytest.mark.asyncio,
            pytest.mark.vcr,
            getattr(pytest.mark, _SCENARIO_MARK)(scenario),
        ):
            function = marker(function)
        return function

    return mark


def _settings_dict(settings: Mapping[str, Any] | BackendSettings | None) -> dict[str, Any]:
    # dict() of a settings model keeps SecretStr values and nested models as
    # they are; model_dump would turn nested models into dicts the backend may
    # not expect.
    return {} if settings is None else dict(settings)


def _applicability(suite: BackendConformance, test: str, capabilities: Capabilities) -> str | None:
    """Why the standard test ``test`` does not apply to the backend (it then skips), or None.

    One table for every skip that depends on what the backend declares, so a
    network-bound test can skip *before* its cassette is looked up: a test
    that can never run must not ask for a recording it would never make.
    """
    if test == "test_generate_several" and capabilities.max_images_per_call < 2:
        return "the backend returns one image per call (max_images_per_call is 1)"
    if test in _NEEDS_AN_IGNORED_SETTING and unsupported_setting(capabilities) is None:
        return "the backend honours every generic request setting"
    if test == "test_authentication_error" and suite.invalid_auth_settings is None:
        return "invalid_auth_settings is not set"
    if test == "test_failure_error_kind" and suite.failure_kind is None:
        return "failure_kind is not set"
    if test == "test_edit_sends_the_input_image" and not capabilities.max_input_images:
        return "the backend takes no input images (max_input_images is 0)"
    if test == "test_progress_between_images" and not suite.reports_progress:
        return "reports_progress is not set"
    return None


_NEEDS_AN_IGNORED_SETTING = frozenset(
    {"test_unsupported_setting_warns", "test_strict_mode_rejects_unsupported_setting"}
)


class BackendConformance:
    """Standard tests for an imagegen backend: subclass it; this docstring is the spec.

    Minimal subclass (the fake backend's, from imagegen-testing itself)::

        from imagegen_core import ErrorKind
        from imagegen_testing.conformance import BackendConformance

        class TestFakeConformance(BackendConformance):
            backend = "fake"                              # entry-point name, or the class
            backend_settings = {"pixels": 32 * 32}
            invalid_auth_settings = {"api_key": "wrong-key"}
            failure_settings = {"fail_with": "server"}
            failure_kind = ErrorKind.SERVER
            slow_settings = {"latency": 30}

            def remote_jobs_running(self, backend, run):
                return backend.jobs_running

    **What is tested.** ``backend`` (required) names the backend's entry point
    in ``imagegen.backends`` or is its class (the class's ``name`` must then be
    its entry point's name). ``backend_settings`` are the settings for every
    test (a mapping or the settings model). Scenario settings are applied over
    them (and over a live provider's settings, see below):
    ``invalid_auth_settings`` must make the provider reject the credentials
    (None skips the authentication tests); ``failure_settings`` with
    ``failure_kind`` make a generation fail with that :class:`ErrorKind`
    (``failure_kind = None`` skips it; a provider can script the failure
    instead of settings, see :class:`LiveProvider`); ``slow_settings`` keep a
    generation running long enough to be cancelled. ``prompt`` and
    ``request_options`` (backend-specific inputs) shape every request.

    **Capabilities.** Tests read ``backend.capabilities`` and skip what the
    backend says it cannot do (several images when ``max_images_per_call`` is
    1, warnings when every generic setting is honoured, ...). Set
    ``expected_capabilities`` to also pin them, so a change of capabilities
    fails loudly.

    **Remote jobs.** Override :meth:`remote_jobs_running` to say how many jobs
    the provider still runs for a backend (the fake reads its counter); by
    default the live provider's answer is used, when there is one. The
    cancellation test demands zero after cancelling.

    **API shape.** ``api_shape`` says what "the provider is working on it"
    looks like (:class:`ApiShape`): ``QUEUE`` (default) when the first reply
    acknowledges a job that runs on, so a cassette can replay that reply and
    then the cancel; ``ONE_REQUEST`` or ``STREAMING`` when the work is one
    open request, which no cassette can hold open: their cancellation test
    always runs against :meth:`live_provider` (an in-process
    :class:`~imagegen_testing.fake_server.FakeServerProvider`, allowed under
    ``--block-network``) and demands that the request be abandoned in bounded
    time, with no task and no open request left.

    **Cassettes.** Tests marked network-bound replay a cassette per test,
    named after the test, from ``cassette_dir`` (None: the backend needs no
    network and tests run directly, as the fake's do). pytest-recording's
    ``--record-mode`` decides: ``none`` (default) replays and *skips* a test
    whose cassette is missing, naming the command that records it; ``once``
    records missing cassettes; ``rewrite`` records all again. Recording (or
    running with ``cassette_dir = None``) talks to :meth:`live_provider`:
    return a :class:`LiveProvider`, e.g.
    :class:`~imagegen_testing.conformance.replicate.ReplicateProvider`, which
    records against the bundled emulator, or against the live API when
    ``REPLICATE_API_TOKEN`` is set. Every cassette is recorded through the shared VCR
    configuration (:func:`imagegen_testing.vcr.shared_vcr_config`): credentials
    dropped or redacted, provider URLs rewritten to canonical ones, images
    shrunk to flat pictures of the same format and size. After recording, the
    cassette is scanned for the test's secrets and deleted (failing the test)
    if one is found. ``vcr_overrides`` adds vcrpy options (never ``record_mode``).

    A cassette recorded by a test that then fails is not kept: the test's
    cassette is left as it was before (removed, or the previous one put back).

    **Bounds.** ``generation_timeout`` caps each generation; ``cancel_timeout``
    caps how long a cancelled generation may take to finish;
    ``max_download_bytes`` caps each image download.

    **Opting out.** Every ``test_*`` method here is a standard test. Overriding
    or removing one fails :meth:`test_no_overrides_DO_NOT_OVERRIDE`, unless
    the override is decorated with ``@pytest.mark.xfail(reason="...")``,
    which keeps the opt-out visible in every report. Add your own tests freely.
    """

    # -- what is tested -----------------------------------------------------------

    backend: ClassVar[str | type[ImageBackend[Any]]]
    """The backend's entry-point name, or its class."""
    test_double: ClassVar[bool] = False
    """The backend is a test double, declared in ``imagegen.test_backends`` (used only
    when named) instead of ``imagegen.backends``. Real backends leave this False."""
    backend_settings: ClassVar[Mapping[str, Any] | BackendSettings] = {}
    """Settings for every test."""
    invalid_auth_settings: ClassVar[Mapping[str, Any] | None] = None
    """Settings (over ``backend_settings``) whose credentials the provider rejects."""
    failure_settings: ClassVar[Mapping[str, Any]] = {}
    """Settings (over ``backend_settings``) that make the provider fail a generation."""
    failure_kind: ClassVar[ErrorKind | None] = None
    """The error kind that failure must have; None skips the failure test."""
    slow_settings: ClassVar[Mapping[str, Any]] = {}
    """Settings (over ``backend_settings``) that keep a generation running to be cancelled."""
    expected_capabilities: ClassVar[Capabilities | None] = None
    """When set, the backend's capabilities must equal these."""
    prompt: ClassVar[str] = "a lighthouse at dawn, screenprint poster"
    """The prompt of every request."""
    request_options: ClassVar[Mapping[str, Any]] = {}
    """Backend-specific inputs added to every request (``ImageRequest.options``)."""
    reports_progress: ClassVar[bool] = False
    """The backend reports progress for the suite's request under ``progress_settings``
    (nothing in :class:`Capabilities` says so: progress is whatever the provider
    reports). Set it to have the progress test demand progress events."""
    progress_settings: ClassVar[Mapping[str, Any]] = {}
    """Settings (over ``backend_settings``) under which the backend reports progress."""

    # -- bounds -------------------------------------------------------------------

    generation_timeout: ClassVar[float] = 60.0
    """Seconds one generation may take before the test fails."""
    cancel_timeout: ClassVar[float] = DEFAULT_CLEANUP_TIMEOUT + 5.0
    """Seconds a cancelled generation may take to finish, remote cancel included."""
    cancel_delay: ClassVar[float] = 0.2
    """Seconds to let a generation run before cancelling it, when neither a cassette
    nor :meth:`remote_jobs_running` can tell that remote work started."""
    max_download_bytes: ClassVar[int] = 50 * 2**20
    """Largest image download accepted."""

    # -- cassettes ----------------------------------------------------------------

    cassette_dir: ClassVar[str | os.PathLike[str] | None] = None
    """Where this backend's cassettes live; None when it needs no network."""
    vcr_overrides: ClassVar[Mapping[str, Any]] = {}
    """Extra vcrpy options over the shared configuration."""
    cancel_sends_request: ClassVar[bool] = True
    """Cancelling remote work sends a request (Replicate: ``POST .../cancel``).
    With cassettes, the cancellation test of a queue API then demands one after
    cancelling."""
    api_shape: ClassVar[ApiShape] = ApiShape.QUEUE
    """How the provider's API carries a generation (see :class:`ApiShape`). A
    one-request or streaming API's cancellation test cancels a request held open
    by :meth:`live_provider`, in replay runs too, instead of replaying a cassette."""

    def live_provider(self) -> LiveProvider | None:
        """The provider to record against (or to use when ``cassette_dir`` is None).

        Return a new :class:`LiveProvider` each call; None means the backend's
        own settings already point where it should go.
        """
        return None

    def input_images_received(self, backend: ImageBackend[Any], run: ConformanceRun) -> int | None:
        """How many input images the provider read for the latest generation, or None.

        The edit test demands every image it sent. The default asks the live
        provider, when one is running; a backend without one (a fake) can
        override this to read its own record.
        """
        if run.provider is not None:
            return run.provider.input_images_received()
        return None

    def remote_jobs_running(self, backend: ImageBackend[Any], run: ConformanceRun) -> int | None:
        """How many remote jobs ``backend`` left running, or None when unknowable.

        The default asks the live provider, when one is running.
        """
        if run.provider is not None:
            return run.provider.remote_jobs_running()
        return None

    # -- helpers for tests ----------------------------------------------------------

    @property
    def backend_name(self) -> str:
        """The backend's (entry-point) name."""
        if isinstance(self.backend, str):
            return self.backend
        return self.backend.name

    def backend_class(self) -> type[ImageBackend[Any]]:
        """The class under test (the entry point is loaded when ``backend`` is a name)."""
        if isinstance(self.backend, str):
            from imagegen_core.plugins import load_backend_class

            return load_backend_class(self.backend)
        return self.backend

    def settings_for(self, run: ConformanceRun | None, *extra: Mapping[str, Any]) -> dict[str, Any]:
        """``backend_settings``, then the provider's settings, then each of ``extra``."""
        merged = _settings_dict(self.backend_settings)
        if run is not None:
            merged.update(run.overrides)
        for more in extra:
            merged.update(more)
        return merged

    def make_backend(
        self, run: ConformanceRun | None, *extra: Mapping[str, Any]
    ) -> ImageBackend[Any]:
        """Build a backend for a test; it is closed when the test ends, its secrets scrubbed."""
        backend = self.backend_class()(self.settings_for(run, *extra))
        if run is not None:
            run.scrubber.add_secrets(backend.secret_values())
            run.backends.append(backend)
        return backend

    def _skip_if_not_applicable(self, test: str, capabilities: Capabilities) -> None:
        reason = _applicability(self, test, capabilities)
        if reason is not None:
            pytest.skip(reason)

    def make_request(self, **fields: Any) -> ImageRequest:
        """A request with the class's prompt and options, plus ``fields``."""
        options = {**self.request_options, **fields.pop("options", {})}
        return ImageRequest(prompt=self.prompt, options=options, **fields)

    async def collect(self, generation: Generation) -> list[GeneratedImage]:
        """All images of a generation, within ``generation_timeout``."""
        async with asyncio.timeout(self.generation_timeout):
            return await generation.collect()

    async def check_images(
        self,
        images: list[GeneratedImage],
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> None:
        """Fetch, decode and check every image against the request."""
        import aiohttp

        async with aiohttp.ClientSession() as session:
            for image in images:
                data = await fetch_image_bytes(image, session, max_bytes=self.max_download_bytes)
                decoded = decode_image(data, index=image.index)
                check_image(image, decoded, request, capabilities)

    def _cassette_path(self, name: str) -> Path | None:
        if self.cassette_dir is None:
            return None
        return Path(self.cassette_dir) / f"{name}.yaml"

    # -- fixtures (pytest-recording's, specialised) ---------------------------------

    @pytest.fixture
    def imagegen_scrubber(self) -> CassetteScrubber:
        """The filter every recorded interaction of this test passes through."""
        return CassetteScrubber()

    @pytest.fixture
    def vcr_config(self, imagegen_scrubber: CassetteScrubber) -> dict[str, Any]:
        """pytest-recording's configuration: the shared one plus ``vcr_overrides``."""
        return shared_vcr_config(imagegen_scrubber, **self.vcr_overrides)

    @pytest.fixture
    def disable_recording(self, request: pytest.FixtureRequest) -> bool:
        """Whether this test runs without a cassette.

        So do backends without network, runs with ``--disable-recording``, and
        the cancellation of a request held open (no cassette can hold one; see
        :class:`ApiShape`).
        """
        if self.cassette_dir is None or request.config.getoption("--disable-recording"):
            return True
        return _cancels_an_open_request(self, request)

    @pytest.fixture
    def allowed_hosts(self, allowed_hosts: list[str] | None) -> list[str]:
        """pytest-recording's hosts allowed under ``--block-network``, plus loopback.

        An in-process fake of the provider (a :class:`~imagegen_testing.fake_server.FakeServer`)
        listens on 127.0.0.1 and never leaves the machine; blocking it would
        block the cancellation test of every one-request API.
        """
        return [*(allowed_hosts or []), *LOOPBACK_HOSTS]

    @pytest.fixture
    def default_cassette_name(
        self,
        request: pytest.FixtureRequest,
        record_mode: str,
        imagegen_backend: ImageBackend[Any],
    ) -> str:
        """One cassette per standard test, named after it; skip when it is missing.

        Runs before pytest-recording opens the cassette (and, with
        ``--record-mode=rewrite``, deletes it), so a test that cannot run here
        skips first and leaves its cassette alone: one that does not apply to
        the backend's capabilities, or one the live provider cannot record.
        """
        name = str(request.node.name)
        self._skip_if_not_applicable(request.node.originalname, imagegen_backend.capabilities)
        path = self._cassette_path(name)
        if path is None:
            return name
        recording = record_mode in {"all", "new_episodes", "rewrite"} or (
            record_mode == "once" and not path.exists()
        )
        if recording:
            _skip_if_provider_cannot(self.live_provider(), _scenario_of(request))
        elif not path.exists():
            message = missing_cassette_message(path, request.node.nodeid, request.node.path)
            if cassettes_required(request.config):
                pytest.fail(f"{message} (cassettes are required here)", pytrace=False)
            pytest.skip(message)
        return name

    @pytest.fixture
    def vcr_cassette_dir(
        self, request: pytest.FixtureRequest, imagegen_scrubber: CassetteScrubber
    ) -> Iterator[str]:
        """The cassette directory; a cassette the test wrote is kept only if it passed.

        A test that failed (or skipped, or xfailed) after recording leaves the
        cassette as it was before the test: the new one removed, a rewritten
        one put back. A kept cassette is then scanned for secrets.
        """
        directory = Path(self.cassette_dir) if self.cassette_dir is not None else Path.cwd()
        path = self._cassette_path(request.node.name)
        before = _stamp(path)
        previous = path.read_bytes() if path is not None and before is not None else None
        yield str(directory)
        if path is None or _stamp(path) == before:
            return
        if not passed(request.node):
            _put_back(path, previous)
            what = "put back as it was" if previous is not None else "removed"
            request.node.add_report_section(
                "teardown",
                "imagegen",
                f"the cassette {path.name} this test recorded was {what}: the test did not pass",
            )
            return
        if not path.exists():
            return
        findings = find_secrets_in_cassette(path, imagegen_scrubber.secrets)
        if findings:
            path.unlink()
            pytest.fail(
                f"the recorded cassette {path.name} held credentials and was deleted: "
                + "; ".join(str(f) for f in findings),
                pytrace=False,
            )

    @pytest_asyncio.fixture
    async def imagegen_run(
        self,
        request: pytest.FixtureRequest,
        vcr: Any,
        imagegen_scrubber: CassetteScrubber,
    ) -> AsyncIterator[ConformanceRun]:
        """Everything a network-bound test needs: cassette, live provider, backends to close."""
        scenario = _scenario_of(request)
        recording = vcr is not None and not vcr.write_protected
        run = ConformanceRun(
            scenario=scenario, scrubber=imagegen_scrubber, cassette=vcr, recording=recording
        )
        provider = self.live_provider() if (vcr is None or recording) else None
        async with contextlib.AsyncExitStack() as stack:
            if provider is not None:
                _skip_if_provider_cannot(provider, scenario)
                stack.push_async_callback(provider.stop)
                run.overrides.update(await provider.start(scenario))
                run.provider = provider
                for recorded, canonical in provider.url_map().items():
                    imagegen_scrubber.map_url(recorded, canonical)
                imagegen_scrubber.add_secrets(provider.secrets())
            if vcr is not None:
                stack.enter_context(resolve_aiohttp_base_url())
            stack.push_async_callback(_close_all, run)
            yield run

    @pytest_asyncio.fixture
    async def imagegen_backend(self) -> AsyncIterator[ImageBackend[Any]]:
        """A backend with ``backend_settings``, for tests that make no network call."""
        backend = self.make_backend(None)
        try:
            yield backend
        finally:
            await backend.aclose()

    # -- the guard ----------------------------------------------------------------

    def test_no_overrides_DO_NOT_OVERRIDE(self) -> None:
        """Standard tests may only be opted out of visibly, with xfail and a reason."""
        problems = find_tampering(type(self), BackendConformance)
        assert not problems, "standard tests were tampered with:\n  " + "\n  ".join(problems)

    # -- discovery ------------------------------------------------------------------

    def test_entry_point_discoverable(self) -> None:
        """The backend is listed by ``available_backends()`` from its entry point, without error."""
        from imagegen_core.plugins import (
            ENTRY_POINT_GROUP,
            TEST_ENTRY_POINT_GROUP,
            available_backends,
        )

        group = TEST_ENTRY_POINT_GROUP if self.test_double else ENTRY_POINT_GROUP
        infos = available_backends(include_test_backends=True)
        mine = [info for info in infos if info.name == self.backend_name]
        installed = ", ".join(sorted({info.name for info in infos})) or "none"
        assert mine, (
            f"no entry point named {self.backend_name!r} in group {group!r} "
            f"(installed: {installed}); declare it in pyproject.toml and reinstall the package"
        )
        assert all(info.test_only == self.test_double for info in mine), (
            f"{self.backend_name!r} must be declared in the {group!r} entry-point group"
        )
        assert len(mine) == 1, f"several distributions claim {self.backend_name!r}: {mine[0].error}"
        info = mine[0]
        assert info.error is None, f"the plugin loads with an error: {info.error}"
        assert info.backend_class is not None
        assert info.backend_class.name == self.backend_name, (
            f"the class registered under {self.backend_name!r} calls itself "
            f"{info.backend_class.name!r}; they must match"
        )
        if not isinstance(self.backend, str):
            assert info.backend_class is self.backend, (
                f"the entry point registers {info.backend_class!r}, not {self.backend!r}"
            )
        assert isinstance(info.capabilities, Capabilities)
        assert info.distribution, "the entry point's distribution is unknown"

    @pytest.mark.asyncio
    async def test_selectable_by_name(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``create_backend(name)`` and ``IMAGEGEN_BACKEND`` both select this backend."""
        from imagegen_core.plugins import create_backend, load_backend_class

        backend_class = load_backend_class(self.backend_name)
        assert issubclass(backend_class, ImageBackend)
        settings = self.settings_for(None)
        by_name = create_backend(self.backend_name, settings)
        monkeypatch.setenv("IMAGEGEN_BACKEND", self.backend_name)
        by_env = create_backend(None, settings)
        try:
            assert type(by_name) is backend_class
            assert type(by_env) is backend_class
        finally:
            await by_name.aclose()
            await by_env.aclose()

    # -- settings and requests (no network) ---------------------------------------

    @pytest.mark.asyncio
    async def test_capabilities_declared(self, imagegen_backend: ImageBackend[Any]) -> None:
        """``capabilities`` is a :class:`Capabilities`, and the expected one when pinned."""
        capabilities = imagegen_backend.capabilities
        assert isinstance(capabilities, Capabilities)
        if self.expected_capabilities is not None:
            assert capabilities == self.expected_capabilities

    @pytest.mark.asyncio
    async def test_settings_validation(self, imagegen_backend: ImageBackend[Any]) -> None:
        """Unknown settings fail as ``invalid_request`` naming the field; updates validate too."""
        backend_class = type(imagegen_backend)
        bogus = "imagegen_conformance_no_such_setting"
        with pytest.raises(ImageGenError) as built:
            backend_class(self.settings_for(None, {bogus: 1}))
        assert built.value.kind is ErrorKind.INVALID_REQUEST
        assert bogus in built.value.message, "the error should name the offending setting"
        before = imagegen_backend.settings
        with pytest.raises(ImageGenError) as updated:
            imagegen_backend.update_settings(**{bogus: 1})
        assert updated.value.kind is ErrorKind.INVALID_REQUEST
        assert imagegen_backend.settings == before, (
            "a rejected update must leave settings unchanged"
        )
        schema = backend_class.settings_schema()
        assert isinstance(schema, dict)
        assert "properties" in schema

    @pytest.mark.asyncio
    async def test_request_validation(self, imagegen_backend: ImageBackend[Any]) -> None:
        """Requests beyond the capabilities fail as ``invalid_request`` before any network call."""
        capabilities = imagegen_backend.capabilities
        checked = 0
        if capabilities.max_images_per_call < MAX_IMAGES_PER_REQUEST:
            too_many = self.make_request(num_images=capabilities.max_images_per_call + 1)
            with pytest.raises(ImageGenError) as info:
                imagegen_backend.generate(too_many)
            assert info.value.kind is ErrorKind.INVALID_REQUEST
            checked += 1
        if capabilities.aspect_ratios:
            ratio = next(r for r in _ODD_RATIOS if r not in capabilities.aspect_ratios)
            with pytest.raises(ImageGenError) as info:
                imagegen_backend.generate(self.make_request(aspect_ratio=ratio))
            assert info.value.kind is ErrorKind.INVALID_REQUEST
            checked += 1
        if not checked:
            pytest.skip("the backend accepts every request the protocol can express")

    @pytest.mark.asyncio
    async def test_strict_mode_rejects_unsupported_setting(
        self, imagegen_backend: ImageBackend[Any]
    ) -> None:
        """In strict mode a setting the backend would ignore is an error, raised up front."""
        capabilities = imagegen_backend.capabilities
        self._skip_if_not_applicable("test_strict_mode_rejects_unsupported_setting", capabilities)
        found = unsupported_setting(capabilities)
        assert found is not None
        _, fields = found
        with pytest.raises(ImageGenError) as info:
            imagegen_backend.generate(self.make_request(**fields), strict=True)
        assert info.value.kind is ErrorKind.INVALID_REQUEST

    @pytest.mark.asyncio
    async def test_aclose_idempotent(self) -> None:
        """``aclose()`` twice is fine, ``closed`` says so, and a closed backend refuses work."""
        backend = self.make_backend(None)
        assert not backend.closed
        await backend.aclose()
        await backend.aclose()
        assert backend.closed
        with pytest.raises(ImageGenError):
            backend.generate(self.make_request())
        async with self.make_backend(None) as scoped:
            assert not scoped.closed
        assert scoped.closed

    @pytest.mark.asyncio
    async def test_no_secret_in_repr(self, imagegen_backend: ImageBackend[Any]) -> None:
        """Neither the backend nor its settings show a credential in repr, str, JSON or schema."""
        backend = imagegen_backend
        places = {
            "repr(backend)": repr(backend),
            "str(backend)": str(backend),
            "repr(settings)": repr(backend.settings),
            "str(settings)": str(backend.settings),
            "settings JSON": backend.settings.model_dump_json(),
            "settings schema": json.dumps(type(backend).settings_schema(), default=str),
        }
        fail_on_secrets(places, backend.secret_values())

    # -- generating (network) ---------------------------------------------------------

    @_network(Scenario.BASIC)
    async def test_generate_one(self, imagegen_run: ConformanceRun) -> None:
        """One image: decodable, with the format, size and ratio asked for where promised."""
        backend = self.make_backend(imagegen_run)
        capabilities = backend.capabilities
        fields: dict[str, Any] = {}
        if capabilities.output_formats:
            fields["output_format"] = (
                OutputFormat.PNG
                if OutputFormat.PNG in capabilities.output_formats
                else sorted(capabilities.output_formats)[0]
            )
        ratio = _non_square_ratio(capabilities)
        if ratio is not None:
            fields["aspect_ratio"] = ratio
        if capabilities.supports_seed:
            fields["seed"] = 42
        request = self.make_request(**fields)
        images = await self.collect(backend.generate(request))
        assert len(images) == 1, f"asked for one image, got {len(images)}"
        assert images[0].index == 0
        await self.check_images(images, request, capabilities)

    @_network(Scenario.SEVERAL)
    async def test_generate_several(self, imagegen_run: ConformanceRun) -> None:
        """Several images from one call, each decodable, with distinct indexes."""
        backend = self.make_backend(imagegen_run)
        capabilities = backend.capabilities
        self._skip_if_not_applicable("test_generate_several", capabilities)
        count = min(2, capabilities.max_images_per_call)
        request = self.make_request(num_images=count)
        generation = backend.generate(request)
        images = await self.collect(generation)
        assert len(images) == count, (
            f"asked for {count} images, got {len(images)} (warnings: {generation.warnings})"
        )
        assert sorted(image.index for image in images) == list(range(count))
        await self.check_images(images, request, capabilities)

    @_network(Scenario.UNSUPPORTED_SETTING)
    async def test_unsupported_setting_warns(self, imagegen_run: ConformanceRun) -> None:
        """A setting the backend cannot honour yields a warning, and images all the same."""
        backend = self.make_backend(imagegen_run)
        self._skip_if_not_applicable("test_unsupported_setting_warns", backend.capabilities)
        found = unsupported_setting(backend.capabilities)
        assert found is not None
        setting, fields = found
        generation = backend.generate(self.make_request(**fields))
        images = await self.collect(generation)
        assert images, "an ignored setting must not stop the generation"
        flagged = [
            w
            for w in generation.warnings
            if w.kind is WarningKind.UNSUPPORTED_SETTING and w.setting == setting
        ]
        assert flagged, f"no unsupported-setting warning for {setting}: {generation.warnings}"

    # -- image inputs and progress ---------------------------------------------------------

    @pytest.mark.asyncio
    async def test_inputs_beyond_capabilities_are_refused(
        self, imagegen_backend: ImageBackend[Any]
    ) -> None:
        """Inputs beyond the capabilities fail as ``invalid_request`` before any network call.

        More input images than declared, or a mask without ``supports_mask``:
        an input the backend ignored would return the wrong picture.
        """
        capabilities = imagegen_backend.capabilities
        image = InputImage(data=_input_png(), role=_edit_role(capabilities))
        cases: list[tuple[str, ImageRequest]] = []
        if capabilities.max_input_images < MAX_INPUT_IMAGES:
            count = capabilities.max_input_images + 1
            request = self.make_request(images=[image] * count)
            cases.append((f"{count} input image(s)", request))
        if not capabilities.supports_mask and ImageRole.EDIT in capabilities.input_roles:
            edit = InputImage(data=_input_png(), role=ImageRole.EDIT)
            masked = self.make_request(images=[edit], mask=InputImage(data=_input_png()))
            cases.append(("a mask", masked))
        if not cases:
            pytest.skip("the backend takes the most input images there are, and masks")
        for what, request in cases:
            refused: ImageGenError | None = None
            try:
                await self.collect(imagegen_backend.generate(request))
            except ImageGenError as error:
                refused = error
            if refused is None:
                pytest.fail(
                    f"{what} beyond the declared capabilities must fail as invalid_request "
                    "before any network call, but the generation succeeded: an input the "
                    "backend cannot use must never be dropped silently"
                )
            assert refused.kind is ErrorKind.INVALID_REQUEST, (
                f"{what} beyond the declared capabilities must fail as invalid_request, "
                f"got {refused!r}"
            )

    @_network(Scenario.EDIT)
    async def test_edit_sends_the_input_image(self, imagegen_run: ConformanceRun) -> None:
        """A request with one input image returns one image, and the image reached the model."""
        backend = self.make_backend(imagegen_run)
        capabilities = backend.capabilities
        self._skip_if_not_applicable("test_edit_sends_the_input_image", capabilities)
        source = InputImage(data=_input_png(), role=_edit_role(capabilities))
        request = self.make_request(images=[source])
        images = await self.collect(backend.generate(request))
        assert len(images) == 1, f"asked for one edited image, got {len(images)}"
        assert images[0].index == 0
        await self.check_images(images, request, capabilities)
        received = self.input_images_received(backend, imagegen_run)
        if received is not None:
            assert received == 1, (
                f"the provider's model read {received} of the 1 input image sent: the "
                "backend must send every input image under the name the model reads"
            )

    @_network(Scenario.PROGRESS)
    async def test_progress_between_images(self, imagegen_run: ConformanceRun) -> None:
        """Progress events arrive before the last image; previews are never counted as images."""
        backend = self.make_backend(imagegen_run, self.progress_settings)
        self._skip_if_not_applicable("test_progress_between_images", backend.capabilities)
        generation = backend.generate(self.make_request())
        events: list[GeneratedImage | GenerationProgress] = []
        async with asyncio.timeout(self.generation_timeout):
            events.extend([event async for event in generation.events()])
        images = [event for event in events if isinstance(event, GeneratedImage)]
        progress = [event for event in events if isinstance(event, GenerationProgress)]
        # The core drops images beyond those asked for; count them too.
        yielded = len(images) + generation.images_dropped
        assert yielded == 1, (
            f"asked for one image, got {yielded}: a preview must travel inside a "
            "GenerationProgress, never as a GeneratedImage"
        )
        assert images[0].index == 0
        assert progress, "reports_progress is set, but no GenerationProgress came"
        assert events.index(progress[0]) < events.index(images[-1]), (
            "every progress event came after the last image: report progress while working"
        )
        assert generation.progress is progress[-1]
        for report in progress:
            assert report.fraction is not None or report.message or report.preview, (
                f"an empty progress event says nothing: {report!r}"
            )

    # -- failing (network) --------------------------------------------------------------

    @_network(Scenario.INVALID_AUTH)
    async def test_authentication_error(self, imagegen_run: ConformanceRun) -> None:
        """Rejected credentials fail as ``ImageGenError(kind=authentication)``, not retryable."""
        backend = self.make_backend(imagegen_run, self.invalid_auth_settings or {})
        self._skip_if_not_applicable("test_authentication_error", backend.capabilities)
        with pytest.raises(ImageGenError) as info:
            await self.collect(backend.generate(self.make_request()))
        error = info.value
        assert error.kind is ErrorKind.AUTHENTICATION, f"wrong kind: {error!r}"
        assert not error.retryable, "retrying rejected credentials cannot help"
        fail_on_secrets(_error_texts(error), backend.secret_values())

    @_network(Scenario.FAILURE)
    async def test_failure_error_kind(self, imagegen_run: ConformanceRun) -> None:
        """A failed generation raises ``ImageGenError`` with the declared ``failure_kind``."""
        backend = self.make_backend(imagegen_run, self.failure_settings)
        self._skip_if_not_applicable("test_failure_error_kind", backend.capabilities)
        with pytest.raises(ImageGenError) as info:
            await self.collect(backend.generate(self.make_request()))
        assert info.value.kind is self.failure_kind, f"wrong kind: {info.value!r}"
        assert info.value.message, "the error must say what happened"

    @_network(Scenario.CANCEL)
    async def test_cancellation(self, imagegen_run: ConformanceRun) -> None:
        """Cancelling the task finishes in bounded time, leaves no task and no remote work.

        Remote work is a running job for a queue API and the open request for
        a one-request or streaming API (see :attr:`api_shape`).
        """
        run = imagegen_run
        shape = self.api_shape
        if shape.connection_bound and run.provider is None:
            pytest.fail(_NEEDS_A_PROVIDER.format(shape=shape.value), pytrace=False)
        backend = self.make_backend(run, self.slow_settings)
        current = asyncio.current_task()
        before = set(asyncio.all_tasks())
        generation = backend.generate(self.make_request())
        task = asyncio.create_task(self.collect(generation), name="imagegen-conformance-generation")
        await self._wait_for_remote_work(task, backend, run)
        if task.done():
            pytest.fail(_finished_too_soon(task, shape, run), pytrace=False)
        if run.cassette is not None and run.exchanges() == 0:
            await _cancel_quietly(task)
            pytest.fail(_NO_FIRST_REPLY.format(timeout=self.generation_timeout), pytrace=False)
        exchanges_before_cancel = run.exchanges()
        started = time.monotonic()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=self.cancel_timeout)
        elapsed = time.monotonic() - started
        assert task in done, (
            f"the cancelled generation was still running after {elapsed:.1f} s "
            f"(cancel_timeout): a remote cancel must be bounded (imagegen_core.finish_cleanup)"
        )
        if not task.cancelled():
            raised = task.exception()
            pytest.fail(
                "cancellation must propagate as CancelledError; the generation "
                + (f"raised {raised!r}" if raised else "returned normally")
                + ": re-raise asyncio.CancelledError after cleaning up, never swallow it"
            )
        # A backend may finish its remote cancel in the background (so an
        # interruption does not wait for the provider); it must still end,
        # bounded, and the backend's shutdown waits for it.
        assert await backend.wait_for_cleanups(timeout=self.cancel_timeout), (
            f"the backend's clean-ups were still running {self.cancel_timeout:.1f} s after "
            "cancelling (cancel_timeout): bound them (the timeout of cleanup_in_background)"
        )
        owned = run.provider.owns_task if run.provider is not None else _nobody_owns
        leftover = await _leftover_tasks(before, current, owned)
        assert not leftover, f"tasks left running after cancellation: {leftover}"
        remote = await _settled(lambda: self.remote_jobs_running(backend, run))
        if remote is not None:
            assert remote == 0, (
                _OPEN_REQUESTS_LEFT.format(remote=remote)
                if shape.connection_bound
                else f"{remote} remote job(s) still running after cancellation"
            )
        if run.cassette is not None and self.cancel_sends_request:
            assert run.exchanges() > exchanges_before_cancel, (
                "no request reached the provider after cancelling: the remote job was not "
                "cancelled (set cancel_sends_request = False if cancelling needs no request)"
            )

    # -- Pipecat (network) ----------------------------------------------------------------

    @_network(Scenario.PIPECAT)
    @pytest.mark.usefixtures("imagegen_offline_nltk")
    async def test_pipecat_round_trip(self, imagegen_run: ConformanceRun) -> None:
        """A ``TextFrame`` through the Pipecat service becomes RGB ``URLImageRawFrame``s."""
        import aiohttp

        pytest.importorskip(
            "pipecat",
            reason="Pipecat is not installed; install imagegen-testing[pipecat] to run the "
            "Pipecat round trip",
        )
        from pipecat.frames.frames import TextFrame

        from imagegen_core.pipecat import BackendImageGenService
        from imagegen_testing.pipecat_run import error_frames, image_frames, run_service

        backend = self.make_backend(imagegen_run)
        async with aiohttp.ClientSession() as session:
            service = BackendImageGenService(backend=backend, aiohttp_session=session)
            async with asyncio.timeout(self.generation_timeout):
                down, up = await run_service(
                    service,
                    [TextFrame(text=self.prompt)],
                    start_timeout=self.generation_timeout,
                )
        errors = error_frames([*down, *up])
        assert not errors, f"the service reported errors: {[e.error for e in errors]}"
        frames = image_frames(down)
        assert frames, f"no URLImageRawFrame came out; got {[type(f).__name__ for f in down]}"
        for frame in frames:
            width, height = frame.size
            assert frame.format == "RGB", f"format must be the PIL mode 'RGB', not {frame.format!r}"
            assert len(frame.image) == width * height * 3, (
                f"{len(frame.image)} bytes of pixels for {width}x{height} RGB"
            )

    # -- secrets (network) ----------------------------------------------------------------

    @_network(Scenario.SECRETS)
    async def test_secrets_stay_secret(
        self, imagegen_run: ConformanceRun, caplog: pytest.LogCaptureFixture
    ) -> None:
        """No credential in logs (stdlib and loguru), errors, reprs, results or ``os.environ``."""
        from imagegen_testing.conformance.capture import loguru_messages

        caplog.set_level(logging.DEBUG)
        environ_before = dict(os.environ)
        places: dict[str, str] = {}
        with loguru_messages() as loguru_lines:
            good = self.make_backend(imagegen_run)
            images = await self.collect(good.generate(self.make_request()))
            places["results"] = repr(images)
            places["repr(backend)"] = repr(good)
            if self.invalid_auth_settings is not None:
                bad = self.make_backend(imagegen_run, self.invalid_auth_settings)
                with pytest.raises(ImageGenError) as info:
                    await self.collect(bad.generate(self.make_request()))
                places.update(_error_texts(info.value))
                places["repr(rejected backend)"] = repr(bad)
                rejected = info.value
        places["stdlib logs"] = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
        places["loguru logs"] = "\n".join(loguru_lines)
        changed = {k: v for k, v in os.environ.items() if environ_before.get(k) != v}
        places["os.environ changes"] = "\n".join(f"{k}={v}" for k, v in changed.items())
        secrets = [s for b in imagegen_run.backends for s in b.secret_values()]
        fail_on_secrets(places, secrets)
        if self.invalid_auth_settings is not None:
            # What an error tracker shows: the chain, and every frame's locals.
            shown = secrets_in_error(rejected, secrets)
            assert not shown, f"the rejected generation's error shows a credential in: {shown}"

    # -- internals ------------------------------------------------------------------------

    async def _wait_for_remote_work(
        self, task: asyncio.Task[Any], backend: ImageBackend[Any], run: ConformanceRun
    ) -> None:
        """Return once the provider has the job (or the task ended, or time ran out)."""
        deadline = time.monotonic() + self.generation_timeout
        while not task.done() and time.monotonic() < deadline:
            if run.cassette is not None:
                if run.exchanges() >= 1:
                    return
            else:
                running = self.remote_jobs_running(backend, run)
                if running is None:
                    await asyncio.sleep(self.cancel_delay)
                    return
                if running > 0:
                    return
            await asyncio.sleep(0.005)


def _input_png() -> bytes:
    """A small picture to edit: a 64x48 PNG, light blue with a dark square."""
    from PIL import Image

    picture = Image.new("RGB", (64, 48), (170, 200, 230))
    picture.paste((30, 40, 60), (16, 12, 40, 36))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def _edit_role(capabilities: Capabilities) -> ImageRole:
    roles = capabilities.input_roles
    return ImageRole.EDIT if ImageRole.EDIT in roles or not roles else sorted(roles)[0]


def _non_square_ratio(capabilities: Capabilities) -> str | None:
    offered = capabilities.aspect_ratios
    if offered is None:
        return "16:9"
    for ratio in ("16:9", "3:2", "4:3", *sorted(offered)):
        if ratio in offered and ratio != "1:1":
            return ratio
    return None


def _error_texts(error: BaseException) -> dict[str, str]:
    texts: dict[str, str] = {}
    seen: set[int] = set()
    current: BaseException | None = error
    depth = 0
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts[f"str(error{'.__cause__' * depth})"] = str(current)
        texts[f"repr(error{'.__cause__' * depth})"] = repr(current)
        current = current.__cause__ or current.__context__
        depth += 1
    return texts


def _nobody_owns(task: asyncio.Task[Any]) -> bool:
    return False


async def _leftover_tasks(
    before: set[asyncio.Task[Any]],
    current: asyncio.Task[Any] | None,
    owned_by_provider: Callable[[asyncio.Task[Any]], bool],
    grace: float = 0.5,
) -> list[str]:
    """Tasks created since ``before`` still running after a short grace period.

    Tasks of an in-process live provider (an emulator's connection handlers)
    are the provider's business, not the backend's, and are not counted.
    """
    deadline = time.monotonic() + grace
    while True:
        leftover = [
            t
            for t in asyncio.all_tasks()
            if t not in before and t is not current and not t.done() and not owned_by_provider(t)
        ]
        if not leftover or time.monotonic() >= deadline:
            return [f"{t.get_name()} {t.get_coro()!r}" for t in leftover]
        await asyncio.sleep(0.01)


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None or not path.exists():
        return None
    status = path.stat()
    return (status.st_mtime_ns, status.st_size)


async def _close_all(run: ConformanceRun) -> None:
    for backend in run.backends:
        await backend.aclose()


def _scenario_of(request: pytest.FixtureRequest) -> Scenario:
    marker = request.node.get_closest_marker(_SCENARIO_MARK)
    return Scenario(marker.args[0]) if marker is not None else Scenario.BASIC


def _skip_if_provider_cannot(provider: LiveProvider | None, scenario: Scenario) -> None:
    if provider is None:
        return
    reason = provider.cannot_run(scenario)
    if reason is not None:
        pytest.skip(f"{type(provider).__name__} cannot record {scenario.value}: {reason}")


_NEEDS_A_PROVIDER = (
    "api_shape is {shape!r}: the cancellation test cancels a request while the provider "
    "holds it open, which a cassette cannot replay, so it needs a live provider in every "
    "run; return one from live_provider(), e.g. an imagegen_testing.fake_server."
    "FakeServerProvider whose CANCEL handler awaits hold_open() (see the guide, "
    "'A one-request API')"
)

_NO_FIRST_REPLY = (
    "the provider had not answered the first request after {timeout:.0f} s "
    "(generation_timeout), so no remote job could be cancelled: a queue API answers its "
    "create request at once. If yours holds the request until the images are ready, set "
    "api_shape = ApiShape.ONE_REQUEST (or ApiShape.STREAMING)"
)

_OPEN_REQUESTS_LEFT = (
    "{remote} request(s) still open at the provider after cancellation: the backend must "
    "abandon its request when cancelled (leave the `async with session.post(...)` block), "
    "not go on reading it in another task or shield it from the cancellation"
)


def _finished_too_soon(task: asyncio.Task[Any], shape: ApiShape, run: ConformanceRun) -> str:
    """Why the generation could not be cancelled, and what to change."""
    if task.cancelled():
        outcome = "was cancelled by someone else"
    elif task.exception() is not None:
        outcome = f"ended with {task.exception()!r}"
    else:
        outcome = f"returned {len(task.result())} image(s)"
    said = f"the generation {outcome} before it could be cancelled"
    if shape.connection_bound:
        return (
            f"{said}: for a {shape.value} API the provider's CANCEL scenario must hold the "
            "request open until the client goes away (a FakeServerProvider handler that "
            "awaits imagegen_testing.fake_server.hold_open()), or slow_settings must make it "
            "last longer than the test takes to cancel it"
        )
    if run.replaying:
        return (
            f"{said}: the cassette's replies finish the job at once. If your API answers "
            "with the images in the reply to its one request, set api_shape = "
            "ApiShape.ONE_REQUEST (or STREAMING): the test then cancels a request held open "
            "by live_provider() instead of replaying. If it queues jobs, the CANCEL scenario "
            "must leave the job running after the first reply: make it slower "
            "(slow_settings, or what live_provider().start(Scenario.CANCEL) scripts) and "
            "record again with --record-mode=rewrite"
        )
    return (
        f"{said}: the CANCEL scenario must keep the job running after the provider accepted "
        "it; make slow_settings (or what live_provider().start(Scenario.CANCEL) scripts) "
        "slower. If your API answers with the images in the reply to its one request, set "
        "api_shape = ApiShape.ONE_REQUEST (or STREAMING)"
    )


def _cancels_an_open_request(suite: BackendConformance, request: pytest.FixtureRequest) -> bool:
    """Whether this is the cancellation test of a one-request or streaming API."""
    return request.node.originalname == "test_cancellation" and suite.api_shape.connection_bound


async def _cancel_quietly(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _settled(read: Callable[[], int | None], grace: float = 1.0) -> int | None:
    """``read()`` once it is 0 or None, or its value after ``grace`` seconds.

    A provider learns of an abandoned request (or a cancelled job) a moment
    after the client acted.
    """
    deadline = time.monotonic() + grace
    while True:
        value = read()
        if not value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(0.01)


def _put_back(path: Path, previous: bytes | None) -> None:
    """Restore a cassette to what it was before the test (absent, or ``previous``)."""
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(previous)
