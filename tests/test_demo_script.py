"""scripts/demo.sh says plainly when there is no display, before it touches the venv or Qt."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "scripts" / "demo.sh"


def test_no_display_is_said_plainly() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    done = subprocess.run(
        ["bash", str(DEMO)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert done.stdout == ""  # nothing started: no venv work, no window attempt
    assert done.stderr.startswith("demo: no display: neither DISPLAY nor WAYLAND_DISPLAY is set")
    assert "xvfb-run scripts/demo.sh" in done.stderr
    assert "QT_QPA_PLATFORM=offscreen" in done.stderr
    assert "Traceback" not in done.stderr
