"""The PySide6 we install must keep its references to True/None: 6.12.0 drops one per
emit() and slot call, which ends a Python 3.11 process after some thousands of signals
("Fatal Python error: none_dealloc"). pyproject.toml excludes that release."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    ping = Signal()


def test_emitting_signals_keeps_references_to_true() -> None:
    probe = _Probe()
    received: list[bool] = []
    probe.ping.connect(lambda: received.append(True))
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(64):
        probe.ping.emit()
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert len(received) == 64
    assert after[0] >= before[0] and after[1] >= before[1] - 8, (before, after)
