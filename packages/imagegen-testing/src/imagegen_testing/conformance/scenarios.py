"""Names for the situations the standard tests put a backend in.

A cassette replays whatever happened when it was recorded, so a scenario that
needs the provider to misbehave (fail a prediction, be slow enough to cancel)
must be arranged while recording. The standard tests tag themselves with a
scenario; a :class:`~imagegen_testing.conformance.LiveProvider` reads the tag
and scripts its emulator accordingly.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Scenario"]


class Scenario(StrEnum):
    """What a network-bound standard test needs from the provider."""

    BASIC = "basic"
    """One image, nothing unusual."""
    SEVERAL = "several"
    """Several images from one call."""
    UNSUPPORTED_SETTING = "unsupported_setting"
    """A request with a setting the backend ignores; images still come back."""
    INVALID_AUTH = "invalid_auth"
    """Credentials the provider rejects."""
    FAILURE = "failure"
    """The provider accepts the request, then fails it (Replicate: a failed prediction)."""
    CANCEL = "cancel"
    """A generation slow enough to be cancelled while the provider works on it."""
    EDIT = "edit"
    """One image from a request that carries an input image to edit."""
    PROGRESS = "progress"
    """A generation slow enough to report progress while it runs (Replicate: tqdm logs)."""
    PIPECAT = "pipecat"
    """One image through the Pipecat service."""
    SECRETS = "secrets"
    """A success and an authentication failure, with every log captured."""
