"""`cl-transfer compare`: two libraries side by side, the differences, exit 0 or 9."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cl_desktop.transfers.compare import ItemComparison, ItemStatus, compare_libraries

from .destination import destination_login
from .errors import EXIT_DIFFERENT, EXIT_OK
from .output import jsonable

if TYPE_CHECKING:
    from .commands import Cli


def run_compare(cli: Cli) -> int:
    args = cli.args
    library_a = cli.library_id(args.library, side="server A")
    ref_b, client_b = destination_login(cli, args.to_server)
    library_b = cli.library_id(args.library2, client_b, "server B")
    result = compare_libraries(cli.client, library_a, client_b, library_b)
    a_label = f"{cli.server.label} {args.library}"
    b_label = f"{ref_b.label} {args.library2}"
    rows: dict[str, Any] = {
        "a": {"server": cli.server.url, "user": cli.server.username, "library": library_a},
        "b": {"server": ref_b.url, "user": ref_b.username, "library": library_b},
        "identical": result.identical,
        "items": [_row(i) for i in result.items],
    }
    lines = [f"A: {a_label}", f"B: {b_label}"]
    lines += [_line(i) for i in result.items] or ["both libraries are empty"]
    counts = {s: len(result.of(s)) for s in ItemStatus}
    lines.append(
        ", ".join(f"{n} {s.value}" for s, n in counts.items())
        + ("; the libraries hold the same items" if result.identical else "")
    )
    cli.out(rows, "\n".join(lines))
    return EXIT_OK if result.identical else EXIT_DIFFERENT


def _row(item: ItemComparison) -> dict[str, Any]:
    def side(model: Any) -> dict[str, Any] | None:
        if model is None:
            return None
        keep = ("id", "type", "size", "content_version")
        return {k: v for k, v in jsonable(model).items() if k in keep}

    return {
        "name": item.name,
        "status": item.status.value,
        "a": side(item.a),
        "b": side(item.b),
        "differences": list(item.differences),
    }


def _line(item: ItemComparison) -> str:
    marks = {ItemStatus.ONLY_A: "<", ItemStatus.ONLY_B: ">", ItemStatus.SAME: "=",
             ItemStatus.CHANGED: "!"}  # fmt: skip
    text = f"{marks[item.status]} {item.name}  ({item.status.value})"
    if item.differences:
        text += ": " + "; ".join(item.differences)
    return text
