"""The second account of a command that works on two servers (compare, fanout, copy):
--to-server and --to-user, its password from CL_TO_PASSWORD, the keyring or a prompt."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Protocol

from cl_desktop.api.addresses import normalize_server
from cl_desktop.transfers.jobs import ServerRef

from .errors import UsageError

if TYPE_CHECKING:
    from cl_desktop.api import ContentLibraryClient

TO_PASSWORD = "CL_TO_PASSWORD"  # the destination account's password (CL_PASSWORD: --user's)


def add_destination_options(command: argparse.ArgumentParser, server_help: str) -> None:
    """--to-user (and, unless the command adds its own, --to-server)."""
    command.add_argument(
        "--to-user",
        help="the user name on --to-server (default: --user); its password from "
        f"{TO_PASSWORD}, the keyring or a prompt",
    )
    if server_help:
        command.add_argument("--to-server", help=server_help)


def destination_ref(args: argparse.Namespace, source: ServerRef, server: str | None) -> ServerRef:
    """The account on `server` (the source's own server when None): --to-user, else --user.
    The source's --ca-file/--pin-sha256 are the source's: the destination's trust comes from
    the trust store the window shares."""
    if not server:
        if args.to_user and args.to_user != source.username:
            raise UsageError("--to-user needs --to-server")
        return source
    try:
        url = normalize_server(server)
    except ValueError as exc:
        raise UsageError(f"--to-server: {exc}") from None
    user = args.to_user or source.username
    if url == normalize_server(source.url) and user == source.username:
        return source
    return ServerRef(url, user, source.dialect)


class _Cli(Protocol):  # commands.Cli (not imported: commands imports the parser, this)
    args: argparse.Namespace
    server: ServerRef
    destinations: set[tuple[str, str]]

    def client_for(self, ref: ServerRef) -> ContentLibraryClient: ...


def destination_login(cli: _Cli, server: str | None) -> tuple[ServerRef, ContentLibraryClient]:
    """The destination's account, logged in (its password read from CL_TO_PASSWORD first)."""
    ref = destination_ref(cli.args, cli.server, server)
    if ref != cli.server:
        cli.destinations.add((normalize_server(ref.url), ref.username))
    return ref, cli.client_for(ref)
