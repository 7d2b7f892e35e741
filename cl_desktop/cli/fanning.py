"""`cl-transfer fanout`: one file into several items, on --server and on --to-server ones."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cl_desktop.transfers.jobs import Direction, FanoutTarget, JobSpec, ServerRef
from cl_desktop.transfers.naming import item_name_for

from .destination import destination_login
from .errors import UsageError

if TYPE_CHECKING:
    from cl_desktop.api import ContentLibraryClient

    from .commands import Cli


def run_fanout_command(cli: Cli) -> int:
    args = cli.args
    path = Path(args.file).resolve()
    name = item_name_for(path.name)
    targets = [_target(cli, cli.server, cli.client, ref, name) for ref in args.targets]
    for group in args.to_servers:  # destination.ToServerGroup: its own --to-user, --to-ca-file
        server, *refs = group
        if not refs:
            raise UsageError(f"--to-server {server}: name at least one LIBRARY/ITEM after it")
        ref_b, client_b = destination_login(cli, server, group)
        targets += [_target(cli, ref_b, client_b, ref, name) for ref in refs]
    if not targets:
        raise UsageError("name at least one LIBRARY/ITEM to upload into")
    seen: set[tuple[ServerRef, str, str]] = set()
    for t in targets:
        key = (t.server, t.library_id, t.item_id or t.item_name.casefold())
        if key in seen:
            raise UsageError(f"{t.label} is named twice")
        seen.add(key)
    first = targets[0]
    spec = JobSpec(
        Direction.UPLOAD,
        first.server,
        first.library_id,
        item_name=first.item_name,
        paths=(str(path),),
        fanout_targets=tuple(targets),
    )
    return cli.run_new(spec)


def _target(
    cli: Cli, server: ServerRef, client: ContentLibraryClient, ref: str, file_item: str
) -> FanoutTarget:
    if ref.endswith("/"):  # LIBRARY/: an item named after the file
        ref += file_item
    library_id, item_id, item_name = cli.item_ref(ref, client, "the target server")
    library_name = client.libraries.get(library_id).name or library_id
    return FanoutTarget(server, library_id, item_id, item_name or file_item, library_name)
