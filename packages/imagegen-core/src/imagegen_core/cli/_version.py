"""What ``imagegen --version`` prints: the core's version and each installed backend's.

A bug report needs both: the core alone does not say which release of a
backend produced an image. The backends' distributions and versions are read
from their entry points' metadata, without importing any plugin, so the answer
comes even when a plugin is broken (``imagegen backends`` says why).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any, NoReturn

import imagegen_core
from imagegen_core.plugins import ENTRY_POINT_GROUP, TEST_ENTRY_POINT_GROUP
from imagegen_core.plugins._loader import entry_point_distribution

__all__ = ["VersionAction", "version_report"]


def version_report() -> str:
    """One line for the core, then one per distribution that declares backends."""
    names: dict[tuple[str, str], dict[str, list[str]]] = {}
    for label, group in (("backend", ENTRY_POINT_GROUP), ("test backend", TEST_ENTRY_POINT_GROUP)):
        for entry_point in entry_points(group=group):
            owner = entry_point_distribution(entry_point)
            names.setdefault(owner, {}).setdefault(label, []).append(entry_point.name)
    lines = [f"imagegen-core {imagegen_core.__version__}"]
    for (distribution, version), by_label in sorted(names.items()):
        what = "; ".join(
            f"{label}: {', '.join(sorted(found))}" for label, found in sorted(by_label.items())
        )
        lines.append(f"{distribution} {version or '(version unknown)'} ({what})")
    if not names:
        lines.append("no backend installed")
    return "\n".join(lines)


class VersionAction(argparse.Action):
    """``--version``: print :func:`version_report` and exit 0, before any command is needed."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> NoReturn:
        print(version_report())
        parser.exit()
