"""A deterministic in-process backend: the smallest complete imagegen backend.

It serves two purposes. Tests of the core and of Pipecat apps use it to get
real, decodable images with scripted latency and failures and no network. And
it is the worked example for third-party authors: ``backend.py`` is everything
a backend needs, ``plugin.py`` is everything its entry point needs.
"""

from imagegen_testing.fake.backend import FAKE_VALID_API_KEY, FakeBackend, FakeSettings

__all__ = ["FAKE_VALID_API_KEY", "FakeBackend", "FakeSettings"]
