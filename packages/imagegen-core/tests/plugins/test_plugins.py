"""Entry-point discovery through real distribution metadata (see conftest.PluginInstaller)."""

from __future__ import annotations

import io
import json
import logging
import pickle
import sys
from typing import Any

import pytest
from PIL import Image

from imagegen_core import (
    Capabilities,
    ErrorKind,
    ImageGenError,
    ImageRequest,
    PluginError,
    available_backends,
    create_backend,
    load_backend_class,
    reset_plugin_cache,
)
from imagegen_core.plugins import ENV_BACKEND, TEST_ENTRY_POINT_GROUP

RAISES_ON_IMPORT = """
raise RuntimeError("this plugin is broken at import")
"""

EXITS_ON_IMPORT = """
import sys
sys.exit(3)
"""

RAISES_IN_HOOK = """
from imagegen_core import hookimpl

@hookimpl
def imagegen_register_backends(register):
    raise ValueError("hook exploded")
"""

MISSPELT_ARGUMENT = """
from imagegen_core import hookimpl

@hookimpl
def imagegen_register_backends(registr):
    pass
"""

MISSPELT_HOOK = """
from imagegen_core import hookimpl

@hookimpl
def imagegen_register_backend(register):
    pass
"""

REGISTERS_NOTHING = """
from imagegen_core import hookimpl

@hookimpl
def imagegen_register_backends(register):
    pass
"""

OTHER_PROJECTS_MARKER = """
import pluggy

hookimpl = pluggy.HookimplMarker("llm")

@hookimpl
def imagegen_register_backends(register):
    raise AssertionError("never called: not an imagegen hookimpl")
"""

REGISTERS_NON_BACKEND = """
from imagegen_core import hookimpl

class NotABackend:
    name = "{name}"

@hookimpl
def imagegen_register_backends(register):
    register(NotABackend)
"""

REGISTERS_ABSTRACT = """
from imagegen_core import ImageBackend, BackendSettings, hookimpl

class Half(ImageBackend):
    name = "{name}"
    settings_model = BackendSettings

@hookimpl
def imagegen_register_backends(register):
    register(Half)
"""


def backend_plugin(*, settings: str = "pass", init: str = "", register: int = 1) -> str:
    """The source of a plugin module with a complete backend, varied where a test needs it."""
    return f"""
from imagegen_core import BackendSettings, Capabilities, GeneratedImage, ImageBackend, hookimpl

class Settings(BackendSettings):
    {settings}

class Backend(ImageBackend):
    name = "{{name}}"
    settings_model = Settings
    {init}

    @property
    def capabilities(self):
        return Capabilities()

    async def _generate(self, request):
        yield GeneratedImage(data=b"x")

@hookimpl
def imagegen_register_backends(register):
    {"; ".join(["register(Backend)"] * register)}
"""


NEEDS_SETTINGS = backend_plugin(settings="model: str  # required: no default")
GOOD_TWICE = backend_plugin(register=2)
TAKES_A_SESSION = backend_plugin(
    init="def __init__(self, settings=None, *, session=None):\n"
    "        super().__init__(settings)\n"
    "        self.session = session"
)


def names(infos: list[Any]) -> list[str]:
    return [info.name for info in infos]


def by_name(name: str) -> Any:
    return next(info for info in available_backends() if info.name == name)


# -- listing -------------------------------------------------------------------


def test_good_plugin_is_listed_with_its_metadata_and_capabilities(plugins: Any) -> None:
    installed = plugins.install("good", version="2.3.4")

    info = by_name("good")

    assert info.distribution == installed.distribution
    assert info.version == "2.3.4"
    assert info.module == installed.module
    assert info.error is None
    assert info.loaded
    assert info.backend_class is not None
    assert info.backend_class.__module__ == installed.module
    assert info.capabilities == Capabilities(max_images_per_call=2, supports_seed=True)


def test_real_installed_backends_are_listed_alongside(plugins: Any) -> None:
    plugins.install("good")

    listed = set(names(available_backends()))

    assert {"good", "replicate"} <= listed
    assert "fake" not in listed  # a test double, listed only when asked for
    with_doubles = available_backends(include_test_backends=True)
    assert {info.name: info.test_only for info in with_doubles}["fake"] is True


# -- test doubles ------------------------------------------------------------------------


def test_a_test_double_is_never_the_only_installed_backend(plugins: Any, only: Any) -> None:
    plugins.install("good")
    only("good", "fake")

    assert load_backend_class().name == "good"


def test_a_test_double_alone_is_not_chosen_and_not_suggested(plugins: Any, only: Any) -> None:
    only("fake")

    with pytest.raises(PluginError) as caught:
        load_backend_class()

    assert caught.value.message.startswith("no imagegen backend is installed")
    assert "fake" not in caught.value.message


def test_several_installed_error_suggests_no_test_double(plugins: Any, only: Any) -> None:
    plugins.install("one")
    plugins.install("two")
    only("one", "two", "fake", "double")
    plugins.install("double", group=TEST_ENTRY_POINT_GROUP)

    with pytest.raises(PluginError) as caught:
        load_backend_class()

    assert "(one, two)" in caught.value.message
    assert "fake" not in caught.value.message
    assert "double" not in caught.value.message


def test_a_test_double_is_selected_when_named(
    plugins: Any, only: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = plugins.install("double", group=TEST_ENTRY_POINT_GROUP)

    assert load_backend_class("double").__module__ == installed.module
    monkeypatch.setenv(ENV_BACKEND, "double")
    assert load_backend_class().__module__ == installed.module


def test_a_real_backend_wins_over_a_test_double_of_the_same_name(plugins: Any) -> None:
    real = plugins.install("twin")
    plugins.install("twin", group=TEST_ENTRY_POINT_GROUP, distribution="imagegen-test-twin-double")

    assert load_backend_class("twin").__module__ == real.module
    listed = [
        info for info in available_backends(include_test_backends=True) if info.name == "twin"
    ]
    assert [(info.module, info.test_only) for info in listed] == [(real.module, False)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (RAISES_ON_IMPORT, "RuntimeError: this plugin is broken at import"),
        (EXITS_ON_IMPORT, "SystemExit: 3"),
        (RAISES_IN_HOOK, "imagegen_register_backends raised ValueError: hook exploded"),
        (MISSPELT_ARGUMENT, "registr"),
        (MISSPELT_HOOK, "unknown hook 'imagegen_register_backend'"),
        (REGISTERS_NOTHING, "registered no backend"),
        (OTHER_PROJECTS_MARKER, "decorated with imagegen_core.hookimpl"),
        (REGISTERS_NON_BACKEND, "not an imagegen_core.ImageBackend subclass"),
        (REGISTERS_ABSTRACT, "is abstract (does not implement: _generate, capabilities)"),
    ],
    ids=[
        "import-error",
        "sys-exit",
        "hook-raises",
        "bad-hookimpl-signature",
        "misspelt-hook-name",
        "registers-nothing",
        "other-projects-marker",
        "registers-non-backend",
        "registers-abstract-class",
    ],
)
def test_broken_plugin_is_reported_and_skipped(
    plugins: Any, only: Any, source: str, expected: str
) -> None:
    plugins.install("good")
    plugins.install("broken", source)
    only("good", "broken")

    infos = available_backends()

    assert names(infos) == ["broken", "good"]
    broken, good = infos
    assert not broken.loaded
    assert broken.backend_class is None
    assert broken.capabilities is None
    assert broken.error is not None
    assert expected in broken.error
    assert good.loaded
    assert good.error is None


def test_bad_hookimpl_signature_is_reported_as_invalid_hook(plugins: Any, only: Any) -> None:
    plugins.install("bad", MISSPELT_ARGUMENT)
    only("bad")

    (info,) = available_backends()

    assert info.error is not None
    assert info.error.startswith("invalid hook implementation: PluginValidationError")


def test_plugin_registering_two_classes_is_rejected(plugins: Any, only: Any) -> None:
    plugins.install("twice", GOOD_TWICE)
    only("twice")

    (info,) = available_backends()

    assert info.error is not None
    assert "registered 2 objects" in info.error


def test_capabilities_error_keeps_the_class_and_reports(plugins: Any, only: Any) -> None:
    plugins.install("needy", NEEDS_SETTINGS)
    only("needy")

    (info,) = available_backends()

    assert info.loaded
    assert info.capabilities is None
    assert info.error is not None
    assert info.error.startswith("capabilities unavailable with default settings: ImageGenError")
    assert "model" in info.error
    # Not a load error: strict mode does not reject it, and it can still be created.
    assert names(available_backends(strict=True)) == ["needy"]
    assert create_backend("needy", {"model": "m"}).settings.model == "m"  # type: ignore[attr-defined]


def test_each_skipped_plugin_is_logged_once(
    plugins: Any, only: Any, caplog: pytest.LogCaptureFixture
) -> None:
    plugins.install("broken", RAISES_ON_IMPORT)
    only("broken")

    with caplog.at_level(logging.WARNING, logger="imagegen"):
        available_backends()
        available_backends()
        with pytest.raises(PluginError):
            load_backend_class("broken")

    logged = [r for r in caplog.records if "'broken'" in r.getMessage()]
    assert len(logged) == 1
    assert "this plugin is broken at import" in logged[0].getMessage()


def test_loaded_classes_are_cached_until_reset(plugins: Any, only: Any) -> None:
    installed = plugins.install("good")
    only("good")

    first = load_backend_class("good")
    del sys.modules[installed.module]
    assert load_backend_class("good") is first
    assert installed.module not in sys.modules  # served from the cache, not re-imported

    reset_plugin_cache()
    again = load_backend_class("good")
    assert again is not first
    assert installed.module in sys.modules


def test_class_name_differing_from_entry_point_is_a_warning_or_strict_error(
    plugins: Any, only: Any
) -> None:
    plugins.install("alias", class_name="original")
    only("alias")

    (info,) = available_backends()
    assert info.loaded
    assert info.error is None
    assert len(info.warnings) == 1
    assert "'original'" in info.warnings[0]
    assert load_backend_class("alias").name == "original"

    with pytest.raises(PluginError, match="strict mode"):
        load_backend_class("alias", strict=True)
    with pytest.raises(PluginError, match="'original'"):
        available_backends(strict=True)


# -- duplicates ----------------------------------------------------------------


def test_two_distributions_claiming_one_name(plugins: Any, only: Any) -> None:
    first = plugins.install("twin", distribution="imagegen-twin-a")
    second = plugins.install("twin", distribution="imagegen-twin-b")
    only("twin")

    infos = available_backends()

    assert [i.distribution for i in infos] == ["imagegen-twin-a", "imagegen-twin-b"]
    for info in infos:
        assert not info.loaded
        assert info.error is not None
        assert "imagegen-twin-a" in info.error
        assert "imagegen-twin-b" in info.error
    with pytest.raises(PluginError) as caught:
        load_backend_class("twin")
    assert "imagegen-twin-a" in caught.value.message
    assert "imagegen-twin-b" in caught.value.message
    # Neither claimant was imported: which one to trust is the user's call.
    assert first.module not in sys.modules
    assert second.module not in sys.modules


# -- allow- and deny-lists ---------------------------------------------------------


def test_allow_list_limits_listing(plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins.install("one")
    plugins.install("two")

    monkeypatch.setenv("IMAGEGEN_LOAD_PLUGINS", " two , ,")
    assert names(available_backends()) == ["two"]

    monkeypatch.setenv("IMAGEGEN_LOAD_PLUGINS", "")
    assert available_backends() == []


def test_allow_list_skips_unlisted_without_importing(
    plugins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.install("good")
    broken = plugins.install("broken", RAISES_ON_IMPORT)
    monkeypatch.setenv("IMAGEGEN_LOAD_PLUGINS", "good")

    assert names(available_backends()) == ["good"]
    assert broken.module not in sys.modules


def test_deny_list_hides_and_refuses(plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins.install("good")
    denied = plugins.install("denied")
    monkeypatch.setenv("IMAGEGEN_DISABLE_PLUGINS", "denied,fake")

    listed = names(available_backends())
    assert "good" in listed
    assert "denied" not in listed
    assert "fake" not in listed
    with pytest.raises(PluginError, match="'denied' is disabled by IMAGEGEN_DISABLE_PLUGINS"):
        load_backend_class("denied")
    assert denied.module not in sys.modules


def test_deny_wins_over_allow(plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins.install("good")
    monkeypatch.setenv("IMAGEGEN_LOAD_PLUGINS", "good")
    monkeypatch.setenv("IMAGEGEN_DISABLE_PLUGINS", "good")

    assert available_backends() == []
    with pytest.raises(PluginError, match="disabled by IMAGEGEN_DISABLE_PLUGINS"):
        create_backend("good")


def test_selecting_a_backend_outside_the_allow_list_is_an_error(plugins: Any, only: Any) -> None:
    plugins.install("good")
    plugins.install("other")
    only("good")

    with pytest.raises(
        PluginError, match=r"'other' is not in IMAGEGEN_LOAD_PLUGINS \(which allows: good\)"
    ):
        load_backend_class("other")


# -- strict mode ------------------------------------------------------------------


def test_strict_env_makes_load_errors_fatal(
    plugins: Any, only: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.install("good")
    plugins.install("broken", RAISES_ON_IMPORT)
    plugins.install("hooky", RAISES_IN_HOOK)
    only("good", "broken", "hooky")
    monkeypatch.setenv("IMAGEGEN_STRICT_PLUGINS", "1")

    with pytest.raises(PluginError) as caught:
        available_backends()

    message = caught.value.message
    assert "broken: importing" in message
    assert "hooky: imagegen_register_backends raised ValueError" in message
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    # The argument overrides the variable.
    assert names(available_backends(strict=False)) == ["broken", "good", "hooky"]


def test_strict_argument_without_env(plugins: Any, only: Any) -> None:
    plugins.install("broken", MISSPELT_HOOK)
    only("broken")

    assert names(available_backends()) == ["broken"]
    with pytest.raises(PluginError, match="unknown hook"):
        available_backends(strict=True)


def test_strict_conflict_is_reported_once(plugins: Any, only: Any) -> None:
    plugins.install("twin", distribution="imagegen-twin-a")
    plugins.install("twin", distribution="imagegen-twin-b")
    only("twin")

    with pytest.raises(PluginError) as caught:
        available_backends(strict=True)

    assert caught.value.message.count("claimed by 2 entry points") == 1


@pytest.mark.parametrize("value", ["0", "", "false", "No", "off"])
def test_strict_env_off_values(
    plugins: Any, only: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    plugins.install("broken", RAISES_ON_IMPORT)
    only("broken")
    monkeypatch.setenv("IMAGEGEN_STRICT_PLUGINS", value)

    assert names(available_backends()) == ["broken"]


def test_strict_env_nonsense_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEGEN_STRICT_PLUGINS", "maybe")

    with pytest.raises(PluginError, match=r"IMAGEGEN_STRICT_PLUGINS='maybe' is not understood"):
        available_backends()


# -- selection ----------------------------------------------------------------------


def test_selection_by_name_imports_only_that_entry_point(plugins: Any) -> None:
    good = plugins.install("good")
    broken = plugins.install("broken", RAISES_ON_IMPORT)
    other = plugins.install("other")

    backend_class = load_backend_class("good")

    assert backend_class.__module__ == good.module
    assert good.module in sys.modules
    assert broken.module not in sys.modules
    assert other.module not in sys.modules


def test_selected_broken_plugin_raises_with_its_error(plugins: Any) -> None:
    broken = plugins.install("broken", RAISES_IN_HOOK)

    with pytest.raises(PluginError) as caught:
        load_backend_class("broken")

    assert caught.value.backend == "broken"
    assert broken.distribution in caught.value.message
    assert "hook exploded" in caught.value.message


def test_env_var_selects_and_argument_wins(plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    good = plugins.install("good")
    other = plugins.install("other")
    monkeypatch.setenv("IMAGEGEN_BACKEND", " good ")

    assert load_backend_class().__module__ == good.module
    assert load_backend_class("other").__module__ == other.module


def test_env_var_naming_a_missing_backend(plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins.install("good")
    monkeypatch.setenv("IMAGEGEN_BACKEND", "nope")

    with pytest.raises(PluginError) as caught:
        load_backend_class()

    message = caught.value.message
    assert "no imagegen backend named 'nope' is installed (from IMAGEGEN_BACKEND)" in message
    assert "good" in message


def test_the_only_installed_backend_is_chosen(plugins: Any, only: Any) -> None:
    good = plugins.install("good")
    plugins.install("other")
    only("good")

    backend = create_backend()

    assert type(backend).__module__ == good.module


def test_several_installed_without_a_choice_is_an_error_listing_them(
    plugins: Any, only: Any
) -> None:
    plugins.install("one")
    plugins.install("two")
    only("one", "two")

    with pytest.raises(PluginError) as caught:
        load_backend_class()

    message = caught.value.message
    assert "several imagegen backends are installed (one, two)" in message
    assert "IMAGEGEN_BACKEND" in message
    assert "`imagegen" not in message, "a library error must not name one CLI command"
    assert caught.value.choices == ("one", "two")
    assert caught.value.copy_with(backend="x").choices == ("one", "two")


def test_none_installed_is_an_error(plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("imagegen_core.plugins._registry.entry_points", lambda group: [])

    with pytest.raises(PluginError) as caught:
        load_backend_class()

    assert caught.value.message.startswith("no imagegen backend is installed; install")


def test_none_allowed_says_what_was_switched_off(
    plugins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.install("good")
    monkeypatch.setenv("IMAGEGEN_LOAD_PLUGINS", "")

    with pytest.raises(PluginError) as caught:
        load_backend_class()

    assert "good" in caught.value.message
    assert "switched off by IMAGEGEN_LOAD_PLUGINS/IMAGEGEN_DISABLE_PLUGINS" in caught.value.message


def test_blank_name_is_an_error() -> None:
    with pytest.raises(PluginError, match="empty"):
        load_backend_class("  ")


async def test_create_backend_passes_settings_and_generates(plugins: Any) -> None:
    plugins.install("good")

    backend = create_backend("good", {"colour": "blue"})
    images = await backend.generate(ImageRequest(prompt="p", num_images=2)).collect()
    await backend.aclose()

    assert [_echo(image.data or b"")["colour"] for image in images] == ["blue", "blue"]


def _echo(png: bytes) -> Any:
    """What the test plugin wrote into its PNG's ``echo`` text chunk."""
    with Image.open(io.BytesIO(png)) as image:
        return json.loads(image.text["echo"])  # type: ignore[attr-defined]


def test_create_backend_passes_constructor_keywords(plugins: Any) -> None:
    plugins.install("sessioned", TAKES_A_SESSION)
    session = object()

    backend = create_backend("sessioned", session=session)

    assert backend.session is session  # type: ignore[attr-defined]


def test_create_backend_with_bad_settings_is_an_invalid_request(plugins: Any) -> None:
    plugins.install("good")

    with pytest.raises(ImageGenError) as caught:
        create_backend("good", {"colour": 3, "shade": "dark"})

    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert "colour" in caught.value.message
    assert "shade" in caught.value.message


def test_real_fake_backend_is_selectable_by_name() -> None:
    backend = create_backend("fake", {"model": "fake/x"})

    assert backend.name == "fake"
    assert backend.settings.model == "fake/x"  # type: ignore[attr-defined]


# -- the error type --------------------------------------------------------------------


def test_plugin_error_is_an_invalid_request_that_pickles() -> None:
    error = PluginError("bad plugin", backend="x")

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert type(copy) is PluginError
    assert isinstance(copy, ImageGenError)
    assert (copy.message, copy.backend, copy.kind, copy.retryable) == (
        "bad plugin",
        "x",
        ErrorKind.INVALID_REQUEST,
        False,
    )
    assert repr(copy).startswith("PluginError(")
