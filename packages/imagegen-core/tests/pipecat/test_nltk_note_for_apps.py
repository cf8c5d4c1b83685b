"""Pipecat < 1.12's NLTK download message is explained where app builders read, not only for tests.

The message shows up in an app's own output on a machine without internet
access; an app builder looks in the README and the service's "Using it"
section, not in a testing section.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
SERVICE_DOC = ROOT / "docs" / "pipecat-service.md"
MESSAGE = "[nltk_data] Error loading punkt_tab"


def _github_anchor(heading: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def _app_sections(doc: str) -> str:
    return doc.split("\n## Testing with it", 1)[0]


def test_the_service_doc_explains_the_message_and_the_fix_outside_testing() -> None:
    app_part = _app_sections(SERVICE_DOC.read_text(encoding="utf-8"))
    assert MESSAGE in app_part
    assert "python -m nltk.downloader punkt_tab" in app_part
    assert "NLTK_DATA" in app_part


def test_the_readme_links_to_that_section() -> None:
    doc = SERVICE_DOC.read_text(encoding="utf-8")
    headings = [line.lstrip("#").strip() for line in doc.splitlines() if line.startswith("###")]
    [heading] = [h for h in headings if "punkt_tab" in h]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert MESSAGE in readme
    assert f"docs/pipecat-service.md#{_github_anchor(heading)})" in readme
