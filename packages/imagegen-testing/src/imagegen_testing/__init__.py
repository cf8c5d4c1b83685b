"""imagegen-testing: conformance suite, VCR tooling, Replicate emulator and fake backend."""

__all__ = ["__version__"]

__version__ = "0.1.0"
