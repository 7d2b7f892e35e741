"""The store's cleanups: what jobs left on a server they could not reach, kept across restarts."""

from __future__ import annotations

from pathlib import Path

from cl_desktop.transfers.jobs import ServerRef
from cl_desktop.transfers.store import JobStore


def test_cleanups_are_kept_per_account_once_and_survive_a_restart(tmp_path: Path) -> None:
    a, b = ServerRef("https://vc-a", "admin"), ServerRef("https://vc-b", "admin")
    store = JobStore(tmp_path / "q.sqlite")
    store.add_cleanup(a, "update session", "s-1")
    store.add_cleanup(a, "item", "i-1")
    store.add_cleanup(a, "item", "i-1")  # remembered once
    store.add_cleanup(b, "item", "i-2")
    store.close()
    store = JobStore(tmp_path / "q.sqlite")
    assert [(k, t) for _, _, k, t in store.cleanups(a)] == [
        ("update session", "s-1"),
        ("item", "i-1"),
    ]
    (only_b,) = store.cleanups(b)
    assert only_b[1] == b and only_b[2:] == ("item", "i-2")
    store.delete_cleanup(only_b[0])
    assert store.cleanups(b) == [] and len(store.cleanups()) == 2
