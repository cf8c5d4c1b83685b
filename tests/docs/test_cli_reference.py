"""docs/cli.md documents every command and option the `imagegen` parser has.

A new option added to the CLI without a line in the reference fails here,
naming what is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imagegen_core.cli._main import build_parser

CLI_PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [subparsers] = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    return dict(subparsers.choices)


def test_every_command_has_a_section() -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    missing = [name for name in _commands() if f"## `imagegen {name}" not in page]
    assert not missing, f"docs/cli.md has no section for: {missing}"


def test_every_option_is_documented() -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    missing = []
    for name, command in _commands().items():
        for action in command._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help") and f"`{flag}" not in page:
                    missing.append(f"imagegen {name} {flag}")
    for action in build_parser()._actions:
        for flag in action.option_strings:
            if (
                flag not in ("-h", "--help")
                and f"`{flag}`" not in page
                and (f"`imagegen {flag}`" not in page)
            ):
                missing.append(f"imagegen {flag}")
    assert not missing, f"docs/cli.md does not document: {missing}"
