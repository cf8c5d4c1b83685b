"""Model references: the four accepted shapes, and what each one calls."""

from __future__ import annotations

import pytest

from imagegen_core import Capabilities, OutputFormat
from imagegen_replicate._models import (
    DEFAULT_MODEL,
    FLUX_SCHNELL_ASPECT_RATIOS,
    GENERIC_CAPABILITIES,
    ModelRef,
    profile_for,
)

VERSION = "5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637"


def test_official_model_uses_the_models_endpoint() -> None:
    ref = ModelRef.parse("black-forest-labs/flux-schnell")
    assert ref.kind == "model"
    assert ref.create_path() == "models/black-forest-labs/flux-schnell/predictions"
    assert ref.create_body({"prompt": "x"}) == {"input": {"prompt": "x"}}
    assert str(ref) == "black-forest-labs/flux-schnell"


def test_pinned_version_sends_version_in_the_body() -> None:
    ref = ModelRef.parse(f"black-forest-labs/flux-schnell:{VERSION}")
    assert (ref.kind, ref.version, ref.model_name) == (
        "version",
        VERSION,
        "black-forest-labs/flux-schnell",
    )
    assert ref.create_path() == "predictions"
    assert ref.create_body({"prompt": "x"}) == {
        "input": {"prompt": "x"},
        "version": f"black-forest-labs/flux-schnell:{VERSION}",
    }


def test_bare_version_id() -> None:
    ref = ModelRef.parse(VERSION)
    assert (ref.kind, ref.owner, ref.model_name) == ("version", None, None)
    assert ref.create_body({})["version"] == VERSION
    assert str(ref) == VERSION


def test_deployment_uses_the_deployments_endpoint() -> None:
    ref = ModelRef.parse("deployments/acme/my-flux")
    assert ref.kind == "deployment"
    assert ref.create_path() == "deployments/acme/my-flux/predictions"
    assert "version" not in ref.create_body({})
    assert str(ref) == "deployments/acme/my-flux"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "flux-schnell",
        "a/b/c",
        "owner/name:notahexversion",
        "owner/name:" + "A" * 64,  # version ids are lower-case hex
        "deployments/acme",
        "abc123",
        "https://replicate.com/black-forest-labs/flux-schnell",
    ],
)
def test_malformed_references_name_the_accepted_shapes(bad: str) -> None:
    with pytest.raises(ValueError, match="deployments/owner/name"):
        ModelRef.parse(bad)


def test_flux_schnell_capabilities_are_honest() -> None:
    caps = profile_for(ModelRef.parse(DEFAULT_MODEL)).capabilities
    assert caps.max_images_per_call == 4
    assert caps.aspect_ratios == FLUX_SCHNELL_ASPECT_RATIOS
    assert len(FLUX_SCHNELL_ASPECT_RATIOS) == 11
    assert caps.supports_seed
    assert caps.supports_quality
    assert not caps.supports_negative_prompt
    assert not caps.supports_size
    assert caps.output_formats == frozenset(OutputFormat)


def test_pinned_flux_schnell_version_keeps_its_profile() -> None:
    pinned = profile_for(ModelRef.parse(f"{DEFAULT_MODEL}:{VERSION}"))
    assert pinned.capabilities.max_images_per_call == 4
    assert pinned.takes_num_outputs


def test_unknown_models_and_deployments_get_the_generic_profile() -> None:
    for model in ("acme/painter", VERSION, "deployments/acme/flux-schnell"):
        profile = profile_for(ModelRef.parse(model))
        assert profile.capabilities == GENERIC_CAPABILITIES
        assert not profile.takes_num_outputs


def test_declared_capabilities_win() -> None:
    declared = Capabilities(max_images_per_call=2, supports_negative_prompt=True)
    assert profile_for(ModelRef.parse("deployments/acme/x"), declared).capabilities == declared
    assert profile_for(ModelRef.parse(DEFAULT_MODEL), declared).capabilities == declared


def test_parse_is_memoised_but_still_refuses_bad_references() -> None:
    # The settings read their model several times per generation: a reference
    # is parsed once (it is immutable), and a bad one is refused every time.
    assert ModelRef.parse("acme/painter") is ModelRef.parse("acme/painter")
    assert ModelRef.parse(" acme/painter ") == ModelRef("model", "acme", "painter")
    for _ in range(2):
        with pytest.raises(ValueError, match="not a Replicate model reference"):
            ModelRef.parse("not a model")
