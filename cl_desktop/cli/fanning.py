"""`cl-transfer fanout`: one file into several items, on --server and on --to-server ones.

A --to-server that cannot be reached or logged in to (refused connection, wrong password,
untrusted certificate) does not stop the command: its targets join the job knowing only
their library's name, and fail alone with that reason when the job runs while the others
go on and are verified. The job then fails naming them: exit 1 (6 when every failure is a
checksum mismatch), whatever the reason, since the other targets were written. A missing
password, a bad option and an unknown library on a server that answers stop the command
before the job, as elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cl_desktop.api import errors
from cl_desktop.transfers.errors import describe
from cl_desktop.transfers.jobs import Direction, FanoutTarget, JobSpec, ServerRef
from cl_desktop.transfers.naming import item_name_for

from .destination import destination_login, destination_ref
from .errors import UsageError
from .output import note

if TYPE_CHECKING:
    from cl_desktop.api import ContentLibraryClient

    from .commands import Cli

# what a target's server may answer at the login that fails that target alone
_UNREACHABLE = (errors.TransportError, errors.Unauthenticated, errors.ServiceUnavailable)


def run_fanout_command(cli: Cli) -> int:
    args = cli.args
    path = Path(args.file).resolve()
    name = item_name_for(path.name)
    targets = [_target(cli, cli.server, cli.client, ref, name) for ref in args.targets]
    for group in args.to_servers:  # destination.ToServerGroup: its own --to-user, --to-ca-file
        server, *refs = group
        if not refs:
            raise UsageError(f"--to-server {server}: name at least one LIBRARY/ITEM after it")
        try:
            ref_b, client_b = destination_login(cli, server, group)
        except _UNREACHABLE as exc:
            ref_b = destination_ref(cli.args, cli.server, server, group)
            title, message = describe(exc, command_line=True)
            note(f"{ref_b.label}: {title}: {message} Its targets fail; the others go on.")
            targets += [_unreached(ref_b, ref, name) for ref in refs]
            continue
        targets += [_target(cli, ref_b, client_b, ref, name) for ref in refs]
    if not targets:
        raise UsageError("name at least one LIBRARY/ITEM to upload into")
    seen: set[tuple[ServerRef, str, str]] = set()
    for t in targets:
        key = (t.server, t.library_id or t.library_name, t.item_id or t.item_name.casefold())
        if key in seen:
            raise UsageError(f"{t.label} is named twice")
        seen.add(key)
    # the job's own account is one logged in to (--server's, when it has a target)
    first = next((t for t in targets if t.server == cli.server), None)
    first = first or next((t for t in targets if t.library_id), None)
    spec = JobSpec(
        Direction.UPLOAD,
        first.server if first else cli.server,
        first.library_id if first else "",
        item_name=first.item_name if first else targets[0].item_name,
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


def _unreached(server: ServerRef, ref: str, file_item: str) -> FanoutTarget:
    """A target on a server not reached: its library by name (looked up when it runs)."""
    library, _, item = ref.partition("/")
    if not library or not ref.count("/"):
        raise UsageError(f"{ref!r}: on a server not reached, address items as LIBRARY/ITEM")
    return FanoutTarget(server, "", None, item or file_item, library)
