"""cl-transfer: the command line over the transfer engine, for scripts, pipelines and benchmarks.

Exit codes: the table `errors.EXIT_CODES` (shown by --help). Every error is one line
"error: TITLE: MESSAGE" on stderr; only a bug prints a traceback, and says that it is one. The
password comes from CL_PASSWORD, else the keyring, else a prompt. Each command ends its login on
the server before it exits.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    EXIT_USAGE,
    INTERNAL_ERROR,
    NoPassword,
    UsageError,
    exit_code_for,
)
from .parser import build_parser

if TYPE_CHECKING:
    from .commands import Cli
    from .passwords import KEYRING_SERVICE, password_for

__all__ = ["KEYRING_SERVICE", "Cli", "UsageError", "main", "password_for"]


def __getattr__(name: str) -> Any:
    # imported at first use, not with the package: the commands bring the engine, the
    # passwords the data dirs, and `cl-transfer --help` needs neither
    if name == "Cli":
        from . import commands

        return commands.Cli
    if name in ("KEYRING_SERVICE", "password_for"):
        from . import passwords

        return getattr(passwords, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # --help and --version end here
    except UsageError as exc:  # the grammar's errors (parser.CliParser.error) look like ours
        as_json = "--json" in (sys.argv[1:] if argv is None else argv)
        return _report(UsageError.title, str(exc), as_json, EXIT_USAGE)
    # Only now what the commands need (the engine, logging): the lines above stay quick.
    import logging
    import traceback

    from cl_desktop import logs
    from cl_desktop.api import ContentLibraryError
    from cl_desktop.transfers.errors import LocalError, describe

    from .commands import Cli
    from .interrupts import Interrupts

    # The terminal shows what it always did; cl-transfer.log in the log dir gets INFO too.
    verbose = logging.DEBUG if args.verbose else logging.WARNING
    logs.setup_logging(
        logs.CLI_LOG,
        level=min(verbose, logging.INFO),
        terminal_level=verbose,
        terminal_format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("cl_desktop.cli").info("cl-transfer %s", args.command)
    with Interrupts().installed() as interrupts:
        cli: Cli | None = None
        try:
            cli = Cli(args)
            code = cli.run()
            sys.stdout.flush()  # a closed stdout fails here, not in Python's flush at exit
            return code
        except KeyboardInterrupt:
            message = "`cl-transfer resume` continues the unfinished jobs."
            return _report("Interrupted", message, args.json, EXIT_INTERRUPTED)
        except BrokenPipeError:  # stdout's reader left (`| head`): not an error of ours
            return _stdout_closed()
        except (ContentLibraryError, LocalError, UsageError, NoPassword, OSError) as exc:
            title, message = describe(exc, command_line=True)
            return _report(title, message, args.json, exit_code_for(exc))
        except Exception:
            print(f"cl-transfer: {INTERNAL_ERROR}", file=sys.stderr)
            print(logs.redact(traceback.format_exc()), end="", file=sys.stderr)
            logging.getLogger("cl_desktop.cli").info("internal error", exc_info=True)
            return EXIT_INTERNAL
        finally:
            interrupts.disarm()  # ending sessions and the login must not be cut short
            if cli is not None:
                cli.close()


def _report(title: str, message: str, as_json: bool, code: int) -> int:
    """An error as the one documented line on stderr (and, with --json, as JSON on stdout)."""
    if as_json:
        import json

        try:
            print(json.dumps({"error": title, "message": message}), flush=True)
        except BrokenPipeError:
            _stdout_closed()
    print(f"error: {title}: {message}", file=sys.stderr)
    return code


def _stdout_closed() -> int:
    """stdout's reader closed it (`cl-transfer history | head -1`): what is left unwritten
    goes to /dev/null, so that Python's own flush at exit fails neither (as the Python
    documentation on SIGPIPE advises), and the exit code is a pipe-killed command's."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE
