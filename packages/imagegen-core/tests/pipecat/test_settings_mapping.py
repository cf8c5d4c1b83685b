"""Every field of the generic Pipecat settings reaches the backend or is refused, never dropped.

``BackendImageGenSettings`` inherits Pipecat's ``ImageGenSettings``; a field
added there (by a new Pipecat release, which ``compat(pipecat='newest')``
installs) or here shows up in these tests. Each field needs a sample value
below and must either change the request ``build_request`` makes, reach the
backend's settings through ``backend_updates``, or be refused with an
``invalid_request`` error. A field nobody thought about fails the first test.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pipecat.services.settings import ImageGenSettings

from imagegen_core import ErrorKind, ImageGenError
from imagegen_core.pipecat import BackendImageGenService, BackendImageGenSettings, not_given
from imagegen_testing.fake import FakeBackend

SAMPLES: dict[str, Any] = {
    "model": "fake/other-painter",
    "extra": {"style": "woodcut"},
    "num_images": 2,
    "aspect_ratio": "16:9",
    "size": "640x480",
    "seed": 7,
    "negative_prompt": "blur",
    "output_format": "jpeg",
    "quality": 55,
}
"""A value for each settings field that differs from the default."""

REACHES_BACKEND_SETTINGS = {"model"}
"""Fields passed to the backend's own settings (``backend_updates``) rather than the request."""

REFUSED: set[str] = set()
"""Fields the service knowingly refuses when set (none today)."""

FIELDS = [item.name for item in dataclasses.fields(BackendImageGenSettings)]


def service() -> BackendImageGenService:
    return BackendImageGenService(backend=FakeBackend())


def test_every_field_has_a_sample_value() -> None:
    missing = sorted(set(FIELDS) - set(SAMPLES))
    assert missing == [], (
        f"BackendImageGenSettings has field(s) {missing} this test does not know (a new "
        "Pipecat release may have added them to ImageGenSettings). Map each in "
        "BackendImageGenService.build_request (or backend_updates) or refuse it there, then "
        "add a sample value here and the row to the settings table in docs/pipecat-service.md."
    )


@pytest.mark.parametrize("name", FIELDS)
def test_each_field_is_mapped_or_refused(name: str) -> None:
    image_gen = service()
    baseline = image_gen.build_request("a lighthouse", image_gen._settings)
    settings = dataclasses.replace(image_gen._settings, **{name: SAMPLES[name]})
    if name in REFUSED:
        with pytest.raises(ImageGenError) as refused:
            image_gen.build_request("a lighthouse", settings)
        assert refused.value.kind is ErrorKind.INVALID_REQUEST
    elif name in REACHES_BACKEND_SETTINGS:
        assert image_gen.backend_updates({name: SAMPLES[name]}) == {name: SAMPLES[name]}
    else:
        request = image_gen.build_request("a lighthouse", settings)
        assert request != baseline, f"setting {name!r} changed nothing in the request"


def test_a_field_a_newer_pipecat_adds_is_refused_when_set() -> None:
    # What a Pipecat release adding a field to ImageGenSettings looks like here.
    @dataclasses.dataclass
    class NewerSettings(BackendImageGenSettings):
        steps: int | None = dataclasses.field(default_factory=not_given)

    image_gen = service()
    store = image_gen._settings
    unset = NewerSettings(**{f: getattr(store, f) for f in FIELDS}, steps=None)
    image_gen.build_request("a lighthouse", unset)  # unset: nothing to send
    with pytest.raises(ImageGenError, match="steps") as refused:
        image_gen.build_request("a lighthouse", dataclasses.replace(unset, steps=30))
    assert refused.value.kind is ErrorKind.INVALID_REQUEST


def test_pipecat_image_settings_have_only_the_fields_imagegen_maps() -> None:
    """Pipecat's own ``ImageGenSettings`` fields, which every imagegen service inherits."""
    pipecat_fields = {item.name for item in dataclasses.fields(ImageGenSettings)}
    new = sorted(pipecat_fields - {"model", "extra"})
    assert new == [], (
        f"the installed Pipecat's ImageGenSettings has new field(s) {new}: map or refuse each "
        "in BackendImageGenService.build_request and in every service with settings of its "
        "own (ReplicateImageGenService), then add them to this test"
    )
