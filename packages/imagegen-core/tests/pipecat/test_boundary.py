"""Design rule 1, checked statically: Pipecat is imported in one place only.

When Pipecat changes, only the core's ``imagegen_core/pipecat/`` folder may
have to change. The import-time tests (``test_imports.py``) show that importing a
package pulls no Pipecat in; this test shows that no other module even
mentions it, including imports tucked inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
SOURCES = sorted((REPO / "packages").glob("*/src/**/*.py"))

# The one folder that may import pipecat anywhere.
PIPECAT_LAYER = "imagegen_core/pipecat/"

# Other modules allowed to import pipecat, and whether they may do so at module level.
ALLOWED = {
    # The conformance suite's Pipecat round trip imports it inside the test
    # so that importing the suite (and the pytest plugin) stays Pipecat-free.
    "imagegen_testing/conformance/suite.py": "functions only",
    "imagegen_testing/pipecat_run.py": "functions only",
}


def pipecat_imports(tree: ast.Module) -> list[tuple[ast.stmt, bool]]:
    """Every ``import pipecat...`` statement, with whether it sits at module level."""
    top_level = {id(node) for node in tree.body}
    found: list[tuple[ast.stmt, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "pipecat" or name.startswith("pipecat.") for name in names):
            found.append((node, id(node) in top_level))
    return found


def test_sources_were_found() -> None:
    assert len(SOURCES) > 30
    assert any(PIPECAT_LAYER in path.as_posix() for path in SOURCES)


def test_only_the_pipecat_modules_import_pipecat() -> None:
    offenders = []
    for path in SOURCES:
        relative = Path(*path.parts[path.parts.index("src") + 1 :]).as_posix()
        rule = "anywhere" if relative.startswith(PIPECAT_LAYER) else ALLOWED.get(relative)
        for node, at_module_level in pipecat_imports(ast.parse(path.read_text(), str(path))):
            if rule == "anywhere" or (rule == "functions only" and not at_module_level):
                continue
            offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, f"pipecat imported outside the allowed modules: {offenders}"


def test_the_checker_sees_imports_inside_functions() -> None:
    tree = ast.parse("def f():\n    from pipecat.frames.frames import TextFrame\nimport os\n")
    [(node, at_module_level)] = pipecat_imports(tree)
    assert node.lineno == 2
    assert not at_module_level
