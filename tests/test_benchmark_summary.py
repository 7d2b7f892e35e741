"""benchmarks/run_all.py's summary, composed from sample results files (no benchmark runs):
each goal row with before, now (median [min-max]), goal, ceiling and met; the goals of a
script that left no results shown as not measured; unreadable files named; and the section put
at the top of docs/PERFORMANCE.md, then replaced in place."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import run_all  # noqa: E402
from common import replace_section  # noqa: E402

CEILINGS = {
    "sha1": "700 [690-710] MB/s",
    "write": "900 MB/s",
    "curl upload": "1100 MB/s",
    "curl download": "1500 MB/s",
}


def write(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    (folder / f"{name}.json").write_text(json.dumps({"rows": rows}), encoding="utf-8")


def row(measure: str, value: float, unit: str, **more: Any) -> dict[str, Any]:
    return {"measure": measure, "value": value, "unit": unit, "goal": "", "ceiling": None,
            "met": None, "before": None, **more}  # fmt: skip


def table_rows(section: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| measure")
    ]


def test_rows_in_the_issue_order_with_ranges_ceilings_and_verdicts(tmp_path: Path) -> None:
    write(tmp_path, "bench_gui", [
        row("GUI event loop during 4 full-speed uploads: longest stall", 38.2, "ms",
            goal="< 100 ms", met=True, before="50 ms", min=30.1, max=53.0, runs=3),
    ])  # fmt: skip
    write(tmp_path, "bench_startup", [
        row("`cl-transfer --help`, wall time", 67.4, "ms", goal="< 150 ms", met=True,
            ceiling="python -c pass: 21 ms", before="300 ms", min=61.0, max=80.2, runs=21),
    ])  # fmt: skip
    write(tmp_path, "bench_transfers", [
        row("cl-transfer upload vs curl", 0.93, "x", goal=">= 0.9x", met=True, before="0.58x"),
        row("cl-transfer download vs curl", 0.71, "x", goal=">= 0.9x", met=False),
        row("client CPU, pinned", 1.2, "x"),
    ])  # fmt: skip
    write(tmp_path, "bench_extra", [row("something else", 5, "s")])
    results, notes = run_all.load_results(tmp_path)
    assert notes == []

    section = run_all.compose(results, CEILINGS, ["bench_gui: ok, 120 s"], "2026-12-07")
    rows = table_rows(section)
    # the issue's order: transfers, start-up, browsing, GUI; then scripts owning no goal
    scripts = [r[-1] for r in rows]
    assert scripts == ["bench_transfers"] * 3 + ["bench_startup"] + [
        "bench_browse (no results)"
    ] * 3 + ["bench_gui", "bench_extra"]
    up, down, pinned, startup = rows[0], rows[1], rows[2], rows[3]
    assert up[:4] == ["cl-transfer upload vs curl", "0.58x", "0.93x", ">= 0.9x"]
    assert up[4] == "curl 1100 MB/s; SHA-1 700 [690-710] MB/s" and up[5] == "yes"
    assert down[4].startswith("curl 1500 MB/s;") and "write+fsync 900 MB/s" in down[4]
    assert down[5] == "**no**"
    assert pinned[5] == "—"  # reported, no goal
    assert startup[2] == "67.4 ms [61.0-80.2]" and startup[4] == "python -c pass: 21 ms"
    gui = rows[7]
    assert gui[1:3] == ["50 ms", "38.2 ms [30.1-53.0]"] and gui[5] == "yes"
    assert gui[4] == ""  # an upload's stall, not a transfer rate: no curl ceiling beside it
    browse = rows[4:7]
    assert all(r[2] == "not measured" for r in browse)
    assert "first rows shown" in browse[0][0] and "cache" in browse[2][0]
    assert "Ceilings, this run:" in section and "- bench_gui: ok, 120 s" in section


def test_a_run_without_results_lists_every_goal_as_not_measured(tmp_path: Path) -> None:
    (tmp_path / "bench_transfers.json").write_text("{not json", encoding="utf-8")
    results, notes = run_all.load_results(tmp_path)
    assert results == {} and len(notes) == 1 and "bench_transfers.json" in notes[0]
    rows = table_rows(run_all.compose(results, {}, notes, "today"))
    assert len(rows) == len(run_all.ISSUE_GOALS)
    assert all(r[2] == "not measured" for r in rows)


def test_the_summary_goes_first_and_is_then_replaced_in_place(tmp_path: Path) -> None:
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text("# Performance\n\nintro\n\n## Transfers\n\nold numbers\n", encoding="utf-8")
    replace_section(doc, "Issue 12 goals", "first summary", first=True)
    replace_section(doc, "GUI", "gui numbers")
    replace_section(doc, "Issue 12 goals", "second summary", first=True)
    text = doc.read_text(encoding="utf-8")
    assert text.index("## Issue 12 goals") < text.index("## Transfers") < text.index("## GUI")
    assert "second summary" in text and "first summary" not in text
    assert text.count("## Issue 12 goals") == 1 and text.startswith("# Performance\n\nintro\n")


def test_quick_arguments_keep_only_the_options_a_script_has() -> None:
    help_text = "usage: bench [--runs RUNS] [--size-mib N] [--write FILE]"
    args = ("--runs", "1", "--warmup", "0", "--size-mib", "256", "--items", "2000")
    assert run_all.supported(args, help_text) == ["--runs", "1", "--size-mib", "256"]
