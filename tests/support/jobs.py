"""Job specs as the engine tests write them."""

from __future__ import annotations

from pathlib import Path

from cl_desktop.transfers.jobs import Direction, JobSpec, ServerRef


def upload_spec(ref: ServerRef, library_id: str, *paths: Path, item_id: str | None = None,
                **kw: object) -> JobSpec:  # fmt: skip
    return JobSpec(
        Direction.UPLOAD, ref, library_id, item_id=item_id, paths=tuple(str(p) for p in paths), **kw
    )  # type: ignore[arg-type]


def download_spec(ref: ServerRef, library_id: str, item_id: str, dest: Path,
                  *names: str) -> JobSpec:  # fmt: skip
    return JobSpec(Direction.DOWNLOAD, ref, library_id, item_id=item_id, dest_dir=str(dest),
                   file_names=names)  # fmt: skip
