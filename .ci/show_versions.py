"""Print installed distributions and the versions their requirements resolved to.

Run by nox sessions that install something other than the lock (floors,
compat), so a log says exactly what was tested: ``python show_versions.py
imagegen-core imagegen-replicate``.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement


def _requirements(distribution: str) -> list[str]:
    """The names ``distribution`` requires, its extras' requirements included."""
    extras = ["", *(metadata.metadata(distribution).get_all("Provides-Extra") or [])]
    names = []
    for line in metadata.requires(distribution) or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
            names.append(requirement.name)
    return names


def main(distributions: list[str]) -> None:
    """Print ``name==version`` for each distribution, then for each of its requirements.

    Requirements of every extra are listed; one that is not installed says so.
    """
    seen: set[str] = set()
    for distribution in distributions:
        for name in [distribution, *_requirements(distribution)]:
            key = name.lower().replace("_", "-")
            if key in seen:
                continue
            seen.add(key)
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                version = "(not installed)"
            print(f"{name}=={version}")


if __name__ == "__main__":
    main(sys.argv[1:])
