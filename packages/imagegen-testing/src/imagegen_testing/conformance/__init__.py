"""The conformance suite: one base class that proves a backend behaves like every other.

Subclass :class:`BackendConformance` in a test module; its docstring is the
specification of every knob, and ``docs/writing-a-backend.md`` walks through
the whole path from entry point to recorded cassettes.

Importing this package does not import Pipecat (only the Pipecat round-trip
test does, when it runs); the pytest plugin registers it for assertion
rewriting, so its checks explain their failures.
"""

from imagegen_testing.conformance.guard import find_tampering, standard_test_names
from imagegen_testing.conformance.openai import OpenAICassettes, OpenAIProvider
from imagegen_testing.conformance.providers import LiveProvider
from imagegen_testing.conformance.replicate import ReplicateCassettes, ReplicateProvider
from imagegen_testing.conformance.run import ConformanceRun
from imagegen_testing.conformance.scenarios import Scenario
from imagegen_testing.conformance.shapes import ApiShape
from imagegen_testing.conformance.suite import LOOPBACK_HOSTS, BackendConformance

__all__ = [
    "LOOPBACK_HOSTS",
    "ApiShape",
    "BackendConformance",
    "ConformanceRun",
    "LiveProvider",
    "OpenAICassettes",
    "OpenAIProvider",
    "ReplicateCassettes",
    "ReplicateProvider",
    "Scenario",
    "find_tampering",
    "standard_test_names",
]
