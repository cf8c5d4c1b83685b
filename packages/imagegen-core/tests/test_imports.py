"""Design rule 1: importing the core, its plugin loading and its CLI never imports Pipecat.

Checked in a fresh interpreter, because this test process may already have
imported Pipecat for other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import imagegen_core
import imagegen_core.cli
import imagegen_core.__main__
from imagegen_core import available_backends
before = sorted(m for m in sys.modules if m == "pipecat" or m.startswith("pipecat."))
available_backends()  # imports every installed backend plugin, too
after = sorted(m for m in sys.modules if m == "pipecat" or m.startswith("pipecat."))
print(json.dumps({"before": before, "after": after}))
"""


def test_core_cli_and_plugin_listing_do_not_import_pipecat() -> None:
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    found = json.loads(completed.stdout.strip().splitlines()[-1])

    assert found == {"before": [], "after": []}
