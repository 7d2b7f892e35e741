"""`cl-transfer --help` says everything a script writer needs: every option and command has help
text, and the exit codes and environment variables are listed from their one table
(cl_desktop/cli/errors.py), which the README's table matches."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from cl_desktop import paths
from cl_desktop.cli.errors import ENVIRONMENT, EXIT_CODES
from cl_desktop.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[2]


def without_help(parser: argparse.ArgumentParser, where: str = "cl-transfer") -> list[str]:
    """Every option, argument and command of `parser` (and its commands') with no help text."""
    missing = []
    for action in parser._actions:
        name = "/".join(action.option_strings) or action.dest
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest: choice.help for choice in action._choices_actions}
            for command, sub in action.choices.items():
                if not helped.get(command):
                    missing.append(f"{where} {command}")
                missing += without_help(sub, f"{where} {command}")
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{where} {name}")
    return missing


def test_every_option_argument_and_command_has_help() -> None:
    assert without_help(build_parser()) == []


def test_the_walk_finds_what_has_no_help() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bare")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("quiet").add_argument("thing", help="has help")
    sub.add_parser("told", help="told").add_argument("--mute")
    assert without_help(parser) == [
        "cl-transfer --bare",
        "cl-transfer quiet",
        "cl-transfer told --mute",
    ]


def test_help_lists_the_exit_codes_and_the_environment_from_their_tables() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "cl_desktop.cli", "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    codes = shown[shown.index("exit codes:") :]
    for code, meaning in EXIT_CODES:
        assert f"\n  {code:>3}  {meaning}\n" in codes
    for name, meaning in ENVIRONMENT:
        assert f"\n  {name}  {meaning}\n" in codes
    assert {name for name, _ in ENVIRONMENT} == {
        "CL_PASSWORD",
        "CL_TO_PASSWORD",
        paths.DATA_DIR_ENV,
    }


def test_the_readme_table_is_the_exit_code_table() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", readme, re.MULTILINE)
    assert [(int(code), meaning) for code, meaning in rows] == list(EXIT_CODES)
