"""The state one network-bound standard test works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagegen_core import ImageBackend
from imagegen_testing.conformance.providers import LiveProvider
from imagegen_testing.conformance.scenarios import Scenario
from imagegen_testing.vcr import CassetteScrubber

__all__ = ["ConformanceRun"]


@dataclass
class ConformanceRun:
    """What a network-bound test has: its scenario, cassette and live provider.

    Args:
        scenario: The situation the test needs.
        scrubber: The filter between the traffic and the cassette; every
            backend the test builds registers its secrets here.
        cassette: vcrpy's cassette, or None when cassettes are off.
        recording: Whether new traffic is written to the cassette.
        provider: The started live provider, or None when replaying or when
            the test class has none.
        overrides: Settings that point backends at the provider.
        backends: Backends built for this test, closed when it ends.
    """

    scenario: Scenario
    scrubber: CassetteScrubber
    cassette: Any | None = None
    recording: bool = False
    provider: LiveProvider | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    backends: list[ImageBackend[Any]] = field(default_factory=list)
    _loaded: int = 0

    def __post_init__(self) -> None:
        self._loaded = len(self.cassette.data) if self.cassette is not None else 0

    @property
    def replaying(self) -> bool:
        """Whether traffic comes from a cassette and nothing new is recorded."""
        return self.cassette is not None and not self.recording

    def exchanges(self) -> int:
        """Responses the backend has received so far, replayed or newly recorded.

        This is the backend-neutral sign that remote work has started: the
        first exchange is the provider accepting the job.
        """
        if self.cassette is None:
            return 0
        return int(self.cassette.play_count) + len(self.cassette.data) - self._loaded
