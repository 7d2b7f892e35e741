"""Compare two libraries (on one server or two): items matched by name, each only in A, only
in B, the same, or changed, naming what differs (files, sizes, checksums)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

from cl_desktop.api import ContentLibraryClient, FileInfo, ItemModel


class ItemStatus(StrEnum):
    ONLY_A = "only in A"
    ONLY_B = "only in B"
    SAME = "same"
    CHANGED = "changed"


@dataclass(frozen=True)
class ItemComparison:
    """One name's row: the item on each side (None where absent) and what differs."""

    name: str
    status: ItemStatus
    a: ItemModel | None = None
    b: ItemModel | None = None
    differences: tuple[str, ...] = ()  # "disk.vmdk: size 10 / 12", "only in B: x.iso", ...


@dataclass(frozen=True)
class LibraryComparison:
    items: tuple[ItemComparison, ...]

    @property
    def identical(self) -> bool:
        return all(i.status is ItemStatus.SAME for i in self.items)

    def of(self, status: ItemStatus) -> list[ItemComparison]:
        return [i for i in self.items if i.status is status]


def _key(name: str | None) -> str:
    # an item name clashes with another case-insensitively (as choose_item_name refuses)
    return (name or "").casefold()


def compare_files(a: Iterable[FileInfo], b: Iterable[FileInfo]) -> tuple[str, ...]:
    """What differs between two items' File.Info lists: files on one side only, sizes, and
    checksums where both sides have one in the same algorithm. The items' content versions
    are not compared: they count each server's own changes, so a faithful copy on another
    server (or one re-uploaded) has another version with the same bytes."""
    left = {f.name: f for f in a}
    right = {f.name: f for f in b}
    differences = [f"only in A: {n}" for n in sorted(left.keys() - right.keys())]
    differences += [f"only in B: {n}" for n in sorted(right.keys() - left.keys())]
    for name in sorted(left.keys() & right.keys()):
        fa, fb = left[name], right[name]
        if fa.size is not None and fb.size is not None and fa.size != fb.size:
            differences.append(f"{name}: size {fa.size} / {fb.size}")
            continue
        mismatch = _checksum_mismatch(fa, fb)
        if mismatch:
            differences.append(f"{name}: {mismatch}")
    return tuple(differences)


def _checksum_mismatch(a: FileInfo, b: FileInfo) -> str:
    """ "SHA1 x / y" when both files have a checksum in the same algorithm and they differ."""
    ca, cb = a.checksum_info, b.checksum_info
    if not (ca and cb and ca.checksum and cb.checksum):
        return ""
    if ca.effective_algorithm is not cb.effective_algorithm:
        return ""  # not comparable: the sizes were
    x, y = ca.checksum.lower(), cb.checksum.lower()
    return f"{ca.effective_algorithm.value} {x} / {y}" if x != y else ""


def compare_items(
    a_items: Iterable[ItemModel],
    b_items: Iterable[ItemModel],
    files_of: Callable[[ItemModel, ItemModel], tuple[tuple[FileInfo, ...], tuple[FileInfo, ...]]],
    workers: int = 4,
) -> LibraryComparison:
    """Match by name; `files_of(a, b)` gives the files of an item present on both sides."""
    left = {_key(m.name): m for m in a_items}
    right = {_key(m.name): m for m in b_items}
    both = sorted(left.keys() & right.keys())

    def row(key: str) -> ItemComparison:
        a, b = left[key], right[key]
        a_files, b_files = files_of(a, b)
        differences = compare_files(a_files, b_files)
        if a.type and b.type and a.type.lower() != b.type.lower():
            differences = (f"type {a.type} / {b.type}", *differences)
        status = ItemStatus.CHANGED if differences else ItemStatus.SAME
        return ItemComparison(a.name or "", status, a, b, differences)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="compare") as pool:
        rows = list(pool.map(row, both))
    rows += [ItemComparison(left[k].name or "", ItemStatus.ONLY_A, a=left[k])
             for k in left.keys() - right.keys()]  # fmt: skip
    rows += [ItemComparison(right[k].name or "", ItemStatus.ONLY_B, b=right[k])
             for k in right.keys() - left.keys()]  # fmt: skip
    return LibraryComparison(tuple(sorted(rows, key=lambda r: (_key(r.name), r.status.value))))


def compare_libraries(
    client_a: ContentLibraryClient,
    library_a: str,
    client_b: ContentLibraryClient,
    library_b: str,
) -> LibraryComparison:
    """Compare library `library_a` on `client_a`'s server with `library_b` on `client_b`'s
    (the same client for two libraries of one server): one listing per side, then the files
    of the items present on both, a few at a time."""
    a_items = client_a.items.list_models(library_a)
    b_items = client_b.items.list_models(library_b)

    def files_of(a: ItemModel, b: ItemModel) -> tuple[tuple[FileInfo, ...], tuple[FileInfo, ...]]:
        return client_a.item_files.list(a.id or ""), client_b.item_files.list(b.id or "")

    return compare_items(a_items, b_items, files_of)
