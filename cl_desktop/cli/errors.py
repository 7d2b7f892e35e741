"""Exit codes, the CLI's own errors, and the exit code each kind of error gives.

`EXIT_CODES` is the one table of the codes: `--help` and the README's table are written from it.
Imports nothing of the engine at load: --help shows the exit codes, and must stay quick."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_TLS, EXIT_INTEGRITY = range(7)
EXIT_LOCAL, EXIT_IN_USE = 7, 8
# `compare`: the libraries differ (not 1, which is a failed request: a script tells them apart)
EXIT_DIFFERENT = 9
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
# stdout's reader closed it (`| head`): what a shell reports for a command SIGPIPE killed,
# so that `set -o pipefail` treats cl-transfer as it treats any other such command
EXIT_PIPE = 141  # 128 + SIGPIPE
# What each code means, for --help and the README (tests/transfers/test_cli_help.py compares).
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_FAILED, "a transfer or a server request failed"),
    (EXIT_USAGE, "usage: a wrong option, argument or combination of them"),
    (EXIT_AUTH, "authentication: the login was refused, or no password was given"),
    (EXIT_NOT_FOUND, "not found: no such library, item, file of an item, session or job"),
    (EXIT_TLS, "TLS trust: the server's certificate is not trusted"),
    (EXIT_INTEGRITY, "integrity: a checksum did not match"),
    (EXIT_LOCAL, "local problem: a file, a folder, the queue database"),
    (EXIT_IN_USE, "the job is in use by another running process"),
    (EXIT_DIFFERENT, "compare: the two libraries differ"),
    (EXIT_INTERNAL, "internal error: a bug in cl_desktop (it prints a traceback; report it)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C or SIGTERM); `resume` continues"),
    (EXIT_PIPE, "stdout was closed before all was written (a reader such as `head` ended)"),
)
INTERNAL_ERROR = "internal error (this is a bug in cl_desktop, please report it)"

# The environment variables cl-transfer reads, for --help.
ENVIRONMENT: tuple[tuple[str, str], ...] = (
    (
        "CL_PASSWORD",
        "the password (else the keyring entry USER@SERVER, else a prompt on a terminal)",
    ),
    (
        "CL_TO_PASSWORD",
        "the password of --to-user on --to-server (else the keyring, else a prompt)",
    ),
    ("CL_DESKTOP_DATA_DIR", "moves the data folder, and with it the job store the window shares"),
)


def help_epilog() -> str:
    """The end of `cl-transfer --help`: the exit codes and the environment, from the tables."""
    codes = "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES)
    env = "\n".join(f"  {name}  {meaning}" for name, meaning in ENVIRONMENT)
    return (
        f"exit codes:\n{codes}\n\nenvironment:\n{env}\n\n"
        'Every error is one line "error: TITLE: MESSAGE" on stderr.'
    )


class UsageError(Exception):
    title = "Usage"


class NoPassword(Exception):
    """No password from any source (exit 3: the login cannot be made)."""

    title = "No password"


def exit_code_for(exc: BaseException) -> int:
    # the error classes are imported here, at an error, not with the command line's grammar
    from cl_desktop.api import TlsTrustError, errors
    from cl_desktop.transfers.errors import IntegrityError, LocalError
    from cl_desktop.transfers.queue import JobClaimed

    from .commands import NoSuchFile, NoSuchJob, NoSuchName, NoSuchSession

    # Most specific first: the first class the error is an instance of gives the code.
    by_type: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
        (TlsTrustError, EXIT_TLS),
        ((errors.Unauthenticated, errors.Unauthorized, NoPassword), EXIT_AUTH),
        ((errors.NotFound, NoSuchJob, NoSuchFile, NoSuchSession, NoSuchName), EXIT_NOT_FOUND),
        (IntegrityError, EXIT_INTEGRITY),
        (UsageError, EXIT_USAGE),
        (JobClaimed, EXIT_IN_USE),
        ((LocalError, OSError), EXIT_LOCAL),
    )
    for kinds, code in by_type:
        if isinstance(exc, kinds):
            return code
    return EXIT_FAILED
