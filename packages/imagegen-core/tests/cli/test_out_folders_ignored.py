"""Every ``--out`` folder the docs and examples tell people to write into is ignored by git.

A reader who runs a documented command inside a checkout must not end up
with generated images showing as changes to commit. The folders are read from
the commands themselves, so a new page or example with a new folder is checked
without anyone remembering to list it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
_OUT = re.compile(r"(?<![\w-])(?:--out|-o)(?:=|[ \t]+)(?P<folder>[A-Za-z0-9_.][\w./-]*)")


def documented_out_folders() -> dict[str, str]:
    """Each folder named after ``--out``/``-o`` in the README, docs and examples, with where."""
    sources = [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("examples/**/*.py")]
    folders: dict[str, str] = {}
    for source in sources:
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            for match in _OUT.finditer(line):
                where = f"{source.relative_to(ROOT)}:{number}"
                folders.setdefault(match["folder"].rstrip("/"), where)
    return folders


def test_the_docs_name_out_folders_at_all() -> None:
    # Guards the scan itself: the README's own example must be found.
    assert "out" in documented_out_folders()


def test_every_documented_out_folder_is_git_ignored() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    folders = documented_out_folders()
    # --no-index: judge by the ignore rules alone, tracked or not.
    probe = subprocess.run(  # noqa: S603 - git with paths we built
        [git, "check-ignore", "--no-index", "--verbose", "--non-matching", "--stdin"],
        input="".join(f"{folder}/image-1.png\n" for folder in folders),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode in (0, 1), probe.stderr
    not_ignored = [
        line.split("\t", 1)[1].removesuffix("/image-1.png")
        for line in probe.stdout.splitlines()
        if line.startswith("::")
    ]
    assert not not_ignored, "add to .gitignore: " + ", ".join(
        f"/{folder}/ (used in {folders[folder]})" for folder in not_ignored
    )
