"""The window's translations: Qt's own (standard buttons, dialogs) and cl_desktop's.

cl_desktop's are `resources/translations/cl_desktop_<locale>.qm`, compiled with
pyside6-lrelease from the `.ts` files that `scripts/update-translations.sh` extracts from ui/
(none is shipped yet: English is the source language). A missing file is no error: the text
stays English.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "translations"
DOMAIN = "cl_desktop"


def install_translators(
    app: QCoreApplication, locale: QLocale | None = None, directory: Path = TRANSLATIONS_DIR
) -> list[QTranslator]:
    """Install the translators for `locale` (the system's by default) that exist, each a child
    of `app` (which keeps it alive); returns them."""
    locale = locale or QLocale.system()
    installed = []
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    for domain, folder in (("qtbase", qt_dir), (DOMAIN, str(directory))):
        translator = QTranslator(app)
        if translator.load(locale, domain, "_", folder) and app.installTranslator(translator):
            installed.append(translator)
    return installed
