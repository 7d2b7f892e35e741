"""The second account of a command that works on two servers (compare, fanout, copy):
--to-server and --to-user, its password from CL_TO_PASSWORD, the keyring or a prompt."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cl_desktop.api.addresses import normalize_server
from cl_desktop.transfers.jobs import ServerRef

from .errors import UsageError

if TYPE_CHECKING:
    from cl_desktop.api import ContentLibraryClient

TO_PASSWORD = "CL_TO_PASSWORD"  # the destination account's password (CL_PASSWORD: --user's)


def add_destination_options(command: argparse.ArgumentParser, server_help: str) -> None:
    """--to-user and --to-ca-file (and, unless the command adds its own, --to-server)."""
    command.add_argument(
        "--to-user",
        help="the user name on --to-server, or on --server without it (default: --user); "
        f"its password from {TO_PASSWORD}, the keyring or a prompt",
    )
    command.add_argument(
        "--to-ca-file",
        help="PEM file of the CA that signed --to-server's certificate (default: the pin "
        "trusted in the window or with cl-transfer trust)",
    )
    if server_help:
        command.add_argument("--to-server", help=server_help)


class ToServerGroup(list[str]):
    """One of fanout's `--to-server SERVER LIBRARY/ITEM ... [--to-user V] [--to-ca-file F]`:
    [SERVER, LIBRARY/ITEM, ...], with the --to-user and --to-ca-file given after it."""

    to_user: str | None = None
    to_ca_file: str | None = None


def destination_ref(
    args: argparse.Namespace,
    source: ServerRef,
    server: str | None,
    group: ToServerGroup | None = None,
) -> ServerRef:
    """The account on `server` (the source's own server when None): --to-user (the group's
    first), else --user. Another server's trust is --to-ca-file, else the trust store the
    window shares (the source's --ca-file/--pin-sha256 are the source's); the source's own
    server keeps them."""
    to_user = (group.to_user if group else None) or args.to_user
    ca_file = (group.to_ca_file if group else None) or args.to_ca_file
    if ca_file and not Path(ca_file).is_file():
        problem = "is not a file" if Path(ca_file).exists() else "no such file"
        raise UsageError(f"--to-ca-file {ca_file}: {problem}")
    if not server:
        if ca_file:
            raise UsageError("--to-ca-file needs --to-server")
        server = source.url  # --to-user alone: another account on --server, as the help says
    try:
        url = normalize_server(server)
    except ValueError as exc:
        raise UsageError(f"--to-server: {exc}") from None
    user = to_user or source.username
    if url != normalize_server(source.url):
        return ServerRef(url, user, source.dialect, ca_file)
    if user == source.username:
        return source
    # another account on the source's server: the same trust, unless --to-ca-file says
    return ServerRef(url, user, source.dialect, ca_file or source.ca_file, source.pin_sha256)


class _Cli(Protocol):  # commands.Cli (not imported: commands imports the parser, this)
    args: argparse.Namespace
    server: ServerRef
    destinations: set[tuple[str, str]]

    def client_for(self, ref: ServerRef) -> ContentLibraryClient: ...


def destination_login(
    cli: _Cli, server: str | None, group: ToServerGroup | None = None
) -> tuple[ServerRef, ContentLibraryClient]:
    """The destination's account, logged in (its password read from CL_TO_PASSWORD first)."""
    ref = destination_ref(cli.args, cli.server, server, group)
    if ref != cli.server:
        cli.destinations.add((normalize_server(ref.url), ref.username))
    return ref, cli.client_for(ref)
