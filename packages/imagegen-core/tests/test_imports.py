"""Design rule 1: importing the core, its plugin loading and its CLI never imports Pipecat.

Checked in fresh interpreters, because this test process may already have
imported Pipecat for other tests. Without Pipecat installed, asking for the
Pipecat service fails with an ImportError that names the extra to install.
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


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_protocol_alone_imports_no_http_stack() -> None:
    completed = run_python(
        "import sys, imagegen_core; "
        "print(sorted(m for m in ('pipecat', 'aiohttp', 'loguru') if m in sys.modules))"
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


# `sys.modules[name] = None` makes `import name` raise ImportError: Pipecat as
# seen by an app that installed imagegen without the `pipecat` extra.
WITHOUT_PIPECAT = "import sys; sys.modules['pipecat'] = None\n"


def test_the_pipecat_layer_without_pipecat_names_the_extra() -> None:
    completed = run_python(WITHOUT_PIPECAT + "import imagegen_core.pipecat")
    assert completed.returncode != 0
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: imagegen_core.pipecat needs Pipecat")
    assert 'pip install "imagegen-core[pipecat]"' in last


def test_the_replicate_service_without_pipecat_names_its_extra() -> None:
    completed = run_python(
        WITHOUT_PIPECAT + "import imagegen_replicate\n"
        "backend = imagegen_replicate.ReplicateBackend()\n"  # the backend needs no Pipecat
        "imagegen_replicate.ReplicateImageGenService"
    )
    assert completed.returncode != 0
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ReplicateImageGenService needs Pipecat")
    assert 'pip install "imagegen-replicate[pipecat]"' in last
