"""Check built distributions for what twine and check-wheel-contents do not look at.

Run by the ``distributions`` nox session on the wheels and sdists it built:
``python check_distributions.py dist/*.whl dist/*.tar.gz``. Each problem is
printed; the exit status is 1 if there was any.

* Every wheel and sdist ships the LICENSE (BSD-2-Clause requires the notice
  to travel with the code) and declares the license expression.
* Sdists hold no ``tests/`` folder: the tests are left out on purpose (they
  need the workspace around them; see the packages' ``pyproject.toml``).
* The README, shown on PyPI, links only to absolute addresses (a relative
  ``../../docs`` link is broken there).
* The metadata names project URLs and authors, and every requirement on
  another imagegen package has an upper bound.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement

_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
_ABSOLUTE = ("https://", "http://", "mailto:", "#")


def _wheel(path: Path) -> tuple[Message, list[str]]:
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = wheel.read(metadata).decode()
    problems = []
    if not any(re.fullmatch(r"[^/]+\.dist-info/licenses/LICENSE", n) for n in names):
        problems.append("no .dist-info/licenses/LICENSE in the wheel")
    return Parser().parsestr(text), problems


def _sdist(path: Path) -> tuple[Message, list[str]]:
    with tarfile.open(path) as sdist:
        names = sdist.getnames()
        root = names[0].split("/")[0]
        member = sdist.extractfile(f"{root}/PKG-INFO")
        assert member is not None
        text = member.read().decode()
    problems = []
    if f"{root}/LICENSE" not in names:
        problems.append("no LICENSE at the top of the sdist")
    if any("tests" in name.split("/")[1:] for name in names):
        problems.append("the sdist ships tests (they are left out on purpose)")
    return Parser().parsestr(text), problems


def _metadata_problems(metadata: Message) -> list[str]:
    problems = []
    if metadata.get("License-Expression") != "BSD-2-Clause":
        problems.append(f"License-Expression is {metadata.get('License-Expression')!r}")
    if "LICENSE" not in (metadata.get_all("License-File") or []):
        problems.append("no License-File: LICENSE")
    if not metadata.get_all("Project-URL"):
        problems.append("no Project-URL")
    if not metadata.get("Author") and not metadata.get("Author-email"):
        problems.append("no author")
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.name.startswith("imagegen-") and not any(
            spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier
        ):
            problems.append(f"unbounded requirement on another imagegen package: {line}")
    description = metadata.get_payload()
    assert isinstance(description, str)
    relative = [m["target"] for m in _LINK.finditer(description)]
    relative = [t for t in relative if not t.startswith(_ABSOLUTE)]
    if relative:
        problems.append(f"the README links to relative addresses, broken on PyPI: {relative}")
    return problems


def main(paths: list[str]) -> int:
    """Check each distribution; print one line per distribution and per problem."""
    failed = False
    for name in paths:
        path = Path(name)
        metadata, problems = _wheel(path) if path.suffix == ".whl" else _sdist(path)
        problems += _metadata_problems(metadata)
        print(f"{path.name}: {'ok' if not problems else 'FAILED'}")
        for problem in problems:
            print(f"  - {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
