"""Exit codes, the CLI's own errors, and the exit code each kind of error gives.

Imports nothing of the engine at load: --help shows the exit codes, and must stay quick."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_TLS, EXIT_INTEGRITY = range(7)
EXIT_LOCAL, EXIT_IN_USE = 7, 8
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
INTERNAL_ERROR = "internal error (this is a bug in cl_desktop, please report it)"
EXIT_CODES_HELP = (
    "exit codes: 0 success, 1 transfer failed, 2 usage, 3 authentication, 4 not found, "
    "5 TLS trust, 6 integrity, 7 local file/folder/queue database problem, 8 job in use by "
    "another process, 70 internal error (a bug), 130 interrupted"
)


class UsageError(Exception):
    title = "Usage"


def exit_code_for(exc: BaseException) -> int:
    # the error classes are imported here, at an error, not with the command line's grammar
    from cl_desktop.api import TlsTrustError, errors
    from cl_desktop.transfers.errors import IntegrityError, LocalError
    from cl_desktop.transfers.queue import JobClaimed

    from .commands import NoSuchJob

    # Most specific first: the first class the error is an instance of gives the code.
    by_type: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
        (TlsTrustError, EXIT_TLS),
        ((errors.Unauthenticated, errors.Unauthorized), EXIT_AUTH),
        ((errors.NotFound, NoSuchJob), EXIT_NOT_FOUND),
        (IntegrityError, EXIT_INTEGRITY),
        (UsageError, EXIT_USAGE),
        (JobClaimed, EXIT_IN_USE),
        ((LocalError, OSError), EXIT_LOCAL),
    )
    for kinds, code in by_type:
        if isinstance(exc, kinds):
            return code
    return EXIT_FAILED
