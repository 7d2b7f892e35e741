"""A guard against PySide6 6.12.0's reference leak on None/True with Python 3.11."""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)
_guarded = False


class _Probe(QObject):
    ping = Signal()


def pyside_drops_references() -> bool:
    """True if emitting a signal loses a reference to True (PySide6 6.12.0 does, every time).

    On Python 3.11, where None/True/False are not immortal, those lost references end the
    program with "Fatal Python error: none_dealloc" after some thousands of signals and
    slot calls. PySide6 6.11.3 is not affected.
    """
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(16):
        probe.ping.emit()
    return sys.getrefcount(True) <= before - 16


def guard_refcount_bug() -> bool:
    """Make None, True and False practically immortal (as Python 3.12 does) if needed.

    Returns whether the guard was applied. A no-op on Python >= 3.12 and with a PySide6
    that keeps its references; safe to call more than once.
    """
    global _guarded
    if _guarded or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _guarded
    if not pyside_drops_references():
        return False
    # ob_refcnt is the first field of every CPython object: a 2**40 head start means the
    # leak would need about 10**12 signals to reach zero.
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40
    _guarded = True
    log.warning(
        "this PySide6 loses references to None/True on Python < 3.12; guarded against it "
        "(use a PySide6 other than 6.12.0 to avoid the workaround)"
    )
    return True
