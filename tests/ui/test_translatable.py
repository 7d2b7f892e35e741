"""User-visible strings of the window go through Qt's translation functions.

The check reads ui/'s source: a string literal (or f-string) handed straight to a call that
shows text (setText, QAction, make_action, QMessageBox.question, ErrorInfo, ...) is a string no
translation can reach. It must be wrapped in `self.tr(...)` or `QCoreApplication.translate(...)`,
whose text is one plain literal so that lupdate can extract it (an f-string becomes
`tr("... {name}").format(name=...)`: a translator needs the whole sentence). Text kept in
constants is marked with QT_TRANSLATE_NOOP and translated where it is shown.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cl_desktop.ui

UI_DIR = Path(cl_desktop.ui.__file__).parent
UI_FILES = sorted(p.name for p in UI_DIR.glob("*.py"))

# Calls whose string arguments reach the screen (or a screen reader).
TEXT_CALLS = frozenset(
    {
        "setText", "setWindowTitle", "setToolTip", "setStatusTip", "setPlaceholderText",
        "setWhatsThis", "setAccessibleName", "setAccessibleDescription", "addMenu", "addAction",
        "QAction", "QLabel", "QPushButton", "QCheckBox", "QRadioButton", "QGroupBox", "setTitle",
        "showMessage", "addTab", "setTabText", "setLabelText", "setInformativeText",
        "setDetailedText", "question", "warning", "information", "critical", "addRow",
        "QToolButton", "setSuffix", "setPrefix", "setSpecialValueText", "addButton", "QMenu",
        "setButtonText", "setHeaderLabels", "make_action", "ErrorInfo", "show_status", "confirm",
        "set_starting", "getOpenFileNames", "getExistingDirectory", "getSaveFileName",
    }
)  # fmt: skip
TRANSLATE_CALLS = frozenset({"tr", "translate", "QT_TRANSLATE_NOOP", "QT_TR_NOOP"})


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _is_text(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return True
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and any(c.isalpha() for c in node.value)
    )


def untranslated(source: str, filename: str) -> list[str]:
    """Each `file:line: call(text)` where text is shown untranslated, or handed to a
    translation call already built (lupdate extracts literals only)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name in TEXT_CALLS:
            found += [
                f"{filename}:{arg.lineno}: {name}({ast.unparse(arg)[:60]})"
                for arg in node.args
                if _is_text(arg)
            ]
        elif name in TRANSLATE_CALLS:
            # tr(text, ...), QT_TR_NOOP(text); translate(context, text, ...), QT_TRANSLATE_NOOP
            where = 0 if name in ("tr", "QT_TR_NOOP") else 1
            text = node.args[where] if len(node.args) > where else None
            # a name or subscript is fine (a constant marked with QT_TRANSLATE_NOOP); text
            # built before translation is not: lupdate extracts nothing a translator can match
            if text is None or isinstance(text, (ast.JoinedStr, ast.BinOp, ast.Call)):
                found.append(f"{filename}:{node.lineno}: {name}() of a built text")
    return found


@pytest.mark.parametrize("name", UI_FILES)
def test_ui_strings_go_through_translation(name: str) -> None:
    found = untranslated((UI_DIR / name).read_text(encoding="utf-8"), name)
    assert not found, "strings shown without tr():\n" + "\n".join(found)


def test_the_check_finds_untranslated_text() -> None:
    sample = (
        "label = QLabel('Server:')\n"
        "button.setToolTip(f'Upload {name}')\n"
        "ok = QLabel(self.tr('Server:'))\n"
        "box.setText(QCoreApplication.translate('Ctx', 'Fine'))\n"
        "spacer = QLabel(' ')\n"
        "odd = self.tr(f'{n} files')\n"
        "HEADERS = (QT_TRANSLATE_NOOP('Model', 'Name'),)\n"
        "head = QCoreApplication.translate('Model', HEADERS[0])\n"
        "bad = self.tr('Upload ' + name)\n"
    )
    assert untranslated(sample, "sample.py") == [
        "sample.py:1: QLabel('Server:')",
        "sample.py:2: setToolTip(f'Upload {name}')",
        "sample.py:6: tr() of a built text",
        "sample.py:9: tr() of a built text",
    ]


LUPDATE = Path(sys.executable).parent / "pyside6-lupdate"  # installed with PySide6


@pytest.mark.skipif(not LUPDATE.exists(), reason="PySide6's lupdate is not installed")
def test_lupdate_extracts_the_window_strings(tmp_path: Path) -> None:
    """Qt's own extractor finds the strings (what a translator would get)."""
    ts = tmp_path / "cl_desktop.ts"
    files = [str(UI_DIR / name) for name in UI_FILES]
    subprocess.run([str(LUPDATE), *files, "-ts", str(ts)], check=True, capture_output=True)
    text = ts.read_text(encoding="utf-8")
    assert text.count("<message") > 200
    assert "<source>&amp;Quit</source>" in text
