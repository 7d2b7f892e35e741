"""A translation installed for the user's language reaches the window's text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication

from cl_desktop.ui.translations import DOMAIN, install_translators
from tests.support.gui import FakePrompts, build_app, close_app

LRELEASE = Path(sys.executable).parent / "pyside6-lrelease"  # installed with PySide6

GERMAN = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>MainWindow</name>
    <message><source>&amp;Quit</source><translation>&amp;Beenden</translation></message>
</context>
</TS>
"""


@pytest.mark.skipif(not LRELEASE.exists(), reason="PySide6's lrelease is not installed")
def test_a_german_translation_renames_the_quit_action(
    qapp: QApplication, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    ts = tmp_path / f"{DOMAIN}_de.ts"
    ts.write_text(GERMAN, encoding="utf-8")
    subprocess.run([str(LRELEASE), str(ts), "-qm", str(ts.with_suffix(".qm"))], check=True)
    app = qapp
    translators = install_translators(app, QLocale("de_DE"), tmp_path)
    try:
        assert translators, "the German .qm was not loaded"
        window_app = build_app(tmp_path, fake_prompts)
        try:
            assert window_app.window.quit_action.text() == "&Beenden"
        finally:
            close_app(window_app)
    finally:
        for translator in translators:
            app.removeTranslator(translator)


def test_no_translation_for_a_language_leaves_english(qapp: QApplication, tmp_path: Path) -> None:
    app = qapp
    translators = install_translators(app, QLocale("xx"), tmp_path)
    assert all(t.language() != "xx" for t in translators)
    for translator in translators:
        app.removeTranslator(translator)
