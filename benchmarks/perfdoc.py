"""Shared by the benchmarks: replace one '## Section' of docs/PERFORMANCE.md, keep the rest."""

from __future__ import annotations

import re
from pathlib import Path

HEADER = (
    "# Performance\n\n"
    "Every number here was measured by a script in `benchmarks/`; rerun it to update.\n"
)


def replace_section(path: Path, title: str, body: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
