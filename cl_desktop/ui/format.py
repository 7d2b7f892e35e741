"""Human-readable sizes, speeds, durations and times for the views."""

from __future__ import annotations

import time
from datetime import datetime

from PySide6.QtCore import QCoreApplication, QLocale

_locale = QLocale()
_SI = QLocale.DataSizeFormat.DataSizeSIFormat  # looked up once: a PySide enum costs a call


def size(n: int | None) -> str:
    if n is None:
        return ""
    return _locale.formattedDataSize(n, 1, _SI)


def speed(bytes_per_second: float) -> str:
    if bytes_per_second <= 0:
        return ""
    return QCoreApplication.translate("format", "{size}/s").format(size=size(int(bytes_per_second)))


def duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '2 h 07 min'; '' when unknown."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return QCoreApplication.translate("format", "{s} s").format(s=whole)
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        text = QCoreApplication.translate("format", "{min} min {s} s")
        return text.format(min=minutes, s=f"{secs:02d}")
    hours, minutes = divmod(minutes, 60)
    return QCoreApplication.translate("format", "{h} h {min} min").format(
        h=hours, min=f"{minutes:02d}"
    )


def timestamp(value: datetime | None) -> str:
    """Local date and time as 2026-11-26 22:57: sortable and the same in every locale."""
    if value is None:
        return ""
    # Not strftime: it imports a module per call, which PySide's import hook makes slow.
    t = time.localtime(value.timestamp())
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}"


def yes_no(value: bool | None) -> str:
    if value is None:
        return ""
    if value:
        return QCoreApplication.translate("format", "Yes")
    return QCoreApplication.translate("format", "No")


def number(n: int) -> str:
    """An integer with the locale's digit grouping (as %Ln writes it)."""
    return _locale.toString(n)


def counted(translated: str, n: int) -> str:
    """The English plural of an untranslated "%n item(s)" string.

    Counts go through tr() with n, so a translation gives each language its plural forms;
    with no translation installed Qt returns the source, "1 item(s)", which is made "1 item"
    or "2 items" here."""
    if "(s)" not in translated:
        return translated  # translated: the translation has its plural forms
    return translated.replace("(s)", "" if n == 1 else "s")
