"""Packaging promises: no Pipecat, only imagegen-core's public surface, the entry point."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from imagegen_openai import OpenAIBackend

SOURCE = Path(__file__).resolve().parent.parent / "src" / "imagegen_openai"


def test_import_does_not_import_pipecat() -> None:
    code = (
        "import sys, imagegen_openai, imagegen_openai.plugin;"
        "from imagegen_openai import OpenAIBackend;"
        "OpenAIBackend().capabilities;"
        "bad = sorted(m for m in sys.modules if m == 'pipecat' or m.startswith('pipecat.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_only_the_public_surface_of_imagegen_core_is_used() -> None:
    # A third-party backend can only use what imagegen-core documents; so must this one.
    private = {
        f"{path.name}: {module}"
        for path in SOURCE.rglob("*.py")
        for module in _imports(path)
        if module.startswith("imagegen_core") and any(p.startswith("_") for p in module.split("."))
    }
    assert not private, private
    pipecat = {
        f"{path.name}: {module}"
        for path in SOURCE.rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] == "pipecat" or module.startswith("imagegen_core.pipecat")
    }
    assert not pipecat, pipecat


def test_entry_point_selects_the_backend() -> None:
    from imagegen_core.plugins import load_backend_class

    assert load_backend_class("openai") is OpenAIBackend
    assert OpenAIBackend.name == "openai"
