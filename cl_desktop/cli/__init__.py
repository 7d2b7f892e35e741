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
    args = parser.parse_args(argv)  # --help, --version and usage errors end here
    # Only now what the commands need (the engine, logging): the lines above stay quick.
    import json
    import logging
    import traceback

    from cl_desktop import logs
    from cl_desktop.api import ContentLibraryError
    from cl_desktop.transfers.errors import LocalError, describe

    from .commands import Cli
    from .interrupts import Interrupts
    from .output import note

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
            return cli.run()
        except KeyboardInterrupt:
            note("interrupted; `cl-transfer resume` continues unfinished jobs")
            return EXIT_INTERRUPTED
        except (ContentLibraryError, LocalError, UsageError, NoPassword, OSError) as exc:
            title, message = describe(exc, command_line=True)
            if args.json:
                print(json.dumps({"error": title, "message": message}))
            print(f"error: {title}: {message}", file=sys.stderr)
            return exit_code_for(exc)
        except Exception:
            print(f"cl-transfer: {INTERNAL_ERROR}", file=sys.stderr)
            print(logs.redact(traceback.format_exc()), end="", file=sys.stderr)
            logging.getLogger("cl_desktop.cli").info("internal error", exc_info=True)
            return EXIT_INTERNAL
        finally:
            interrupts.disarm()  # ending sessions and the login must not be cut short
            if cli is not None:
                cli.close()
