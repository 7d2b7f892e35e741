"""The command line's grammar."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from cl_desktop import __version__
from cl_desktop.transfers.jobs import WARNING_WORDS, Existing
from cl_desktop.transfers.policy import RetryPolicy

from .destination import ToServerGroup, add_destination_options
from .errors import EXIT_DIFFERENT, UsageError, help_epilog

# The RetryPolicy settings a command may change: (flag, field, type, metavar, help).
_PATIENCE_FLAGS: tuple[tuple[str, str, type[int] | type[float], str, str], ...] = (
    (
        "--reconnect-window",
        "reconnect_window",
        float,
        "SECONDS",
        "retry a lost connection this long",
    ),
    ("--stall-bytes", "stall_bytes", int, "BYTES", "a transfer moving fewer bytes than this ..."),
    ("--stall-time", "stall_seconds", float, "SECONDS", "... in this many seconds is stalled"),
    ("--stall-limit", "stall_limit", float, "SECONDS", "fail a transfer stalled this long"),
    ("--parallel-puts", "parallel_puts", int, "N", "upload up to N files of a template at once"),
)


_ITEM = "LIBRARY/ITEM (names or ids), or the item's id"


# Options whose default is the user's preference (the window's Settings): dest -> the
# Preferences field. They parse to None when not given, and `apply_preferences` fills them in
# after parsing, so that --help never reads the preferences file.
_PREFERENCE_DEFAULTS = {
    "parallel": "parallel_transfers",
    "limit": "bandwidth_limit",
    "keep_alive_max": "keep_alive_seconds",
}
_FROM_PREFERENCES = "(default: the window's Settings, in preferences.ini; else %s)"


def apply_preferences(args: argparse.Namespace, prefs: Any = None) -> None:
    """Fill the options not given with the preferences (`preferences.load()` by default);
    --limit 0 stays: no limit, whatever the preferences say."""
    if prefs is None:
        from cl_desktop import preferences

        prefs = preferences.load()
    for dest, name in _PREFERENCE_DEFAULTS.items():
        if getattr(args, dest, None) is None:
            setattr(args, dest, getattr(prefs, name))


def retry_policy(args: argparse.Namespace) -> RetryPolicy:
    """The job's RetryPolicy, with the settings given on the command line."""
    fields = {field: getattr(args, field) for _, field, *_ in _PATIENCE_FLAGS}
    if args.keep_alive_max is not None:
        fields["keep_alive_max"] = args.keep_alive_max
    return RetryPolicy(**fields)


class CliParser(argparse.ArgumentParser):
    """argparse, its errors raised as UsageError: `main` prints them as every other error,
    the one line "error: Usage: ..." (exit 2), not argparse's usage dump. The commands'
    parsers are of this class too (add_subparsers makes them of the parser's class)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (`{self.prog} --help` shows the usage)")


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="cl-transfer",
        description="Move files in and out of vSphere Content Library.",
        epilog=help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the epilog's tables as written
    )
    parser.add_argument(
        "--server",
        help="vCenter address, e.g. https://vc.local (https when no scheme is given; "
        "http://HOST:PORT for a plain-HTTP server). jobs, history, resume, retry and remove "
        "work without it, on the jobs of every server (with it, on that server's)",
    )
    parser.add_argument(
        "--user",
        help="vCenter user name (every command but trust/untrust and those on the job store, "
        "which log in as the user each job names)",
    )
    parser.add_argument(
        "--dialect",
        choices=("auto", "api", "rest"),
        default="auto",
        help="the REST API to speak: /api (vSphere 7.0U2+), /rest (older), or auto-detect "
        "(default: %(default)s)",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--ca-file", help="PEM file of the CA that signed the server certificate")
    trust.add_argument("--pin-sha256", help="trust exactly the certificate with this fingerprint")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--queue-db",
        help="job store (default: the one the window uses, in the data dir; "
        "CL_DESKTOP_DATA_DIR moves that dir)",
    )
    parser.add_argument(
        "--parallel",
        type=_positive(int),
        metavar="N",
        help="concurrent transfers " + _FROM_PREFERENCES % "2",
    )
    parser.add_argument(
        "--limit",
        type=_positive(float, zero=True),
        metavar="MB_S",
        help="bandwidth limit in MB/s, 0 for none " + _FROM_PREFERENCES % "none",
    )
    policy = RetryPolicy()
    patience = parser.add_argument_group("reconnecting and stalls")
    for flag, field, kind, metavar, text in _PATIENCE_FLAGS:
        patience.add_argument(
            flag,
            dest=field,
            type=_positive(kind),
            metavar=metavar,
            default=getattr(policy, field),
            help=f"{text} (default: %(default)s)",
        )
    patience.add_argument(
        "--keep-alive",
        dest="keep_alive_max",
        type=_positive(float),
        metavar="SECONDS",
        help="the longest gap between keep-alives of a transfer's session "
        + _FROM_PREFERENCES % "60",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (debug)")
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("libraries", help="list libraries")
    sub.add_parser("items", help="list items of a library").add_argument(
        "library", help="library name or id"
    )
    sub.add_parser("files", help="the item's File.Info rows").add_argument("item", help=_ITEM)
    sub.add_parser("storage", help="the item's Storage.Info rows").add_argument("item", help=_ITEM)
    up = sub.add_parser("upload", help="upload files into an item")
    up.add_argument("item", help=_ITEM)
    up.add_argument(
        "files",
        nargs="+",
        help="files, an .ovf or .ova template, or a folder (the one template in it, or its files)",
    )
    up.add_argument("--create", action="store_true", help="create the item if it is missing")
    up.add_argument("--unique-name", action="store_true", help="with --create: avoid clashes")
    add_ignore_warning_option(up)
    pull = sub.add_parser(
        "import-url",
        help="have the server import an http(s) URL into an item",
        description="The server fetches URL itself (an .ovf brings the files it names). For "
        "an https URL the source's certificate is shown and accepted on a terminal; "
        "elsewhere pass --thumbprint with its SHA-1 fingerprint.",
    )
    pull.add_argument("item", help="LIBRARY/ITEM (name or id); LIBRARY/ names it after the URL")
    pull.add_argument("url", help="http:// or https:// URL of the file")
    pull.add_argument("--create", action="store_true", help="create the item if it is missing")
    pull.add_argument("--thumbprint", help="SHA-1 fingerprint of the https source's certificate")
    add_ignore_warning_option(pull)  # a signed .ovf pulled raises the same warnings
    down = sub.add_parser("download", help="download an item's files")
    down.add_argument("item", help=_ITEM)
    down.add_argument("dest_dir", metavar="DEST", help="the folder to download into")
    down.add_argument(
        "--file",
        action="append",
        default=[],
        dest="names",
        metavar="NAME",
        help="download only this file of the item (repeatable; default: all its files); "
        "a name the item does not have is exit 4",
    )
    down.add_argument(
        "--ova",
        action="store_true",
        help="save an OVF template as one DEST/ITEM.ova (descriptor, manifest, disks), "
        "each member verified against the server's checksum",
    )
    down.add_argument(
        "--existing",
        choices=[e.value for e in Existing],
        default=Existing.KEEP_BOTH.value,
        help="when the file, the item's folder DEST/ITEM/ (several files) or the .ova exists: "
        "overwrite it, skip the download, or keep both, writing 'ITEM (2)' "
        "(default: %(default)s)",
    )
    copy = sub.add_parser(
        "copy",
        help="copy an item into a library of this server or of --to-server",
        description="The item's files stream from this server's download session into the "
        "target's upload session (nothing is written locally), each verified against the "
        "source's checksum. Within one server and user the server copies the item itself "
        "when it can. The target's password: CL_TO_PASSWORD, the keyring or a prompt.",
    )
    copy.add_argument("item", help=_ITEM)
    copy.add_argument(
        "destination",
        metavar="LIBRARY[/ITEM]",
        help="the target library (name or id); the copy keeps the item's name, as "
        "'NAME (2)' when the library has it; /ITEM names it (an existing ITEM is updated)",
    )
    add_destination_options(copy, "the target vCenter (default: --server)")
    sub.add_parser(
        "sessions", help="update and download sessions of this user, with item names and expiry"
    )
    session = sub.add_parser("session", help="act on one update or download session")
    session.add_argument(
        "action", choices=("cancel", "fail", "delete", "keep-alive"), help="what to do"
    )
    session.add_argument("session_id", metavar="ID", help="the session's id (see `sessions`)")
    session.add_argument(
        "--message",
        default="failed from cl-transfer",
        help="with fail: the reason the server records (default: %(default)s)",
    )
    resume = sub.add_parser(
        "resume",
        help="finish the unfinished jobs no other process is running (of every server, or "
        "of --server and --user), each logging in as the user its job names",
        description="Every account the jobs need logs in first. A job whose server cannot "
        "be reached, or whose login is refused, stays queued (an error line names the jobs "
        "of each such account); the others run, and the exit code is then that of the first "
        "login that failed.",
    )
    resume.add_argument(
        "job_ids", type=int, nargs="*", metavar="ID", help="only these jobs (see `jobs`)"
    )
    sub.add_parser("jobs", help="the persisted jobs (of every server, or of --server/--user)")
    retry = sub.add_parser("retry", help="run a failed or canceled job again, to its end")
    retry.add_argument("job_id", type=int, metavar="ID", help="the job's id (see `jobs`)")
    remove = sub.add_parser("remove", help="forget a job, ending what it left on the server")
    remove.add_argument("job_id", type=int, metavar="ID", help="the job's id (see `jobs`)")
    trust_cmd = sub.add_parser(
        "trust",
        help="show the server's certificate and pin it for the window and cl-transfer",
        description="Show the certificate the server presents and pin it in the trust store "
        "the window shares. On a terminal it asks; elsewhere pass --sha256 with the "
        "fingerprint you checked with the server's administrator.",
    )
    trust_cmd.add_argument(
        "--sha256", help="pin only if the server presents exactly this SHA-256 fingerprint"
    )
    trust_cmd.add_argument(
        "--replace", action="store_true", help="replace a pin the server no longer matches"
    )
    sub.add_parser("untrust", help="forget the pinned certificate of this server")
    history = sub.add_parser(
        "history", help="finished transfers of every server and user (the audit trail)"
    )
    history.add_argument("--export", metavar="FILE", help="write the records to this file")
    history.add_argument(
        "--format",
        choices=("csv", "json"),
        default="csv",
        help="the format of --export (default: %(default)s)",
    )
    compare = sub.add_parser(
        "compare",
        help="compare two libraries (on one server or two): items by name, files by size "
        "and checksum",
        description="Items are matched by name; each is only in LIBRARY, only in LIBRARY2, "
        "the same, or changed (files missing on one side, sizes, checksums). Exit 0 when "
        f"the libraries hold the same items, {EXIT_DIFFERENT} when they differ (any other "
        "code is an error, as listed in cl-transfer --help).",
    )
    compare.add_argument("library", help="library name or id on --server")
    compare.add_argument("library2", help="library name or id on --to-server (or on --server)")
    add_destination_options(
        compare, "the server of LIBRARY2 (default: --server, comparing two of its libraries)"
    )
    fan = sub.add_parser(
        "fanout",
        help="upload one file or template into several items (libraries, servers), reading it once",
        description="FILE goes into every LIBRARY/ITEM named (an item that does not exist is "
        "created; LIBRARY/ names it after the file): those after FILE on --server, those "
        "after each --to-server on that server (as the --to-user after it, else one before "
        "any --to-server, else --user). The file is read and hashed "
        "once for all; a slow or failing target does not hold up the others, and fails "
        "alone with its reason (a --to-server not reached or refusing the login too): exit 1 "
        "when any target failed. retry sends only to the targets not verified before. Put "
        "the --to-server groups last.",
    )
    fan.add_argument("file", help="the local file, .ovf template (with its files) or .ova")
    fan.add_argument("targets", nargs="*", metavar="LIBRARY/ITEM", help="items on --server to fill")
    fan.add_argument(
        "--to-server",
        action=_StartGroup,
        nargs="+",
        default=[],
        dest="to_servers",
        metavar=("SERVER", "LIBRARY/ITEM"),
        help="another server and its items (repeatable)",
    )
    fan.add_argument(
        "--to-user",
        action=_GroupOption,
        nargs="+",
        metavar=("USER", "LIBRARY/ITEM"),
        help="the user on the --to-server it follows (before any: on each; default: --user); "
        "its password from CL_TO_PASSWORD, the keyring or a prompt",
    )
    fan.add_argument(
        "--to-ca-file",
        action=_GroupOption,
        nargs="+",
        metavar=("PEM", "LIBRARY/ITEM"),
        help="PEM file of the CA that signed the certificate of the --to-server it follows "
        "(before any: of each; default: the pin trusted in the window or with cl-transfer trust)",
    )
    return parser


class _StartGroup(argparse.Action):
    """--to-server SERVER [LIBRARY/ITEM ...]: a new group."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        setattr(namespace, self.dest, [*getattr(namespace, self.dest), ToServerGroup(values)])


class _GroupOption(argparse.Action):
    """--to-user/--to-ca-file VALUE [LIBRARY/ITEM ...] of fanout: of the --to-server group it
    follows (before any: of every group), and the items after it are that group's (before
    any, --server's). So `--to-server B --to-user V LIB/ITEM` reads as written."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        value, *refs = values
        groups = namespace.to_servers
        if groups:
            setattr(groups[-1], self.dest, value)
            groups[-1].extend(refs)
        else:
            setattr(namespace, self.dest, value)
            namespace.targets = [*(namespace.targets or []), *refs]


def add_ignore_warning_option(command: argparse.ArgumentParser) -> None:
    """--ignore-warning TYPE (repeatable), for every command that completes an update session
    (the job's JobSpec.ignore_warnings)."""
    command.add_argument(
        "--ignore-warning",
        action="append",
        default=[],
        dest="ignore_warnings",
        choices=tuple(WARNING_WORDS),
        metavar="TYPE",
        help="accept this warning about a signed OVF's certificate and complete the upload "
        "(repeatable; TYPE is one of " + ", ".join(WARNING_WORDS) + "); without it a warning "
        "fails the upload, listing the warnings (exit 1)",
    )


def _positive(kind: Callable[[str], float], zero: bool = False) -> Callable[[str], Any]:
    """An argparse type: a number above zero (0 parallel transfers would wait for ever), or
    zero too when `zero` says it means "none"."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if zero and value == 0:
            return value
        if not 0 < value < math.inf:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"must be above 0 (and finite), got {text}")
        return value

    return parse
