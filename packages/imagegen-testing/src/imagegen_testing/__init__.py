"""imagegen-testing: conformance suite, VCR tooling, Replicate emulator and fake backend."""
