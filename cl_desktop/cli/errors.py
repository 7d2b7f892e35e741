"""Exit codes, the CLI's own errors, and the exit code each kind of error gives."""

from __future__ import annotations

from cl_desktop.api import ContentLibraryError, TlsTrustError, errors
from cl_desktop.transfers.errors import IntegrityError, LocalError
from cl_desktop.transfers.queue import JobClaimed

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


class NoSuchJob(ContentLibraryError):
    title = "No such job"
    hint = "`cl-transfer jobs` lists the jobs."


# Most specific first: the first class the error is an instance of gives the code.
EXIT_CODE_BY_TYPE: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
    (TlsTrustError, EXIT_TLS),
    ((errors.Unauthenticated, errors.Unauthorized), EXIT_AUTH),
    ((errors.NotFound, NoSuchJob), EXIT_NOT_FOUND),
    (IntegrityError, EXIT_INTEGRITY),
    (UsageError, EXIT_USAGE),
    (JobClaimed, EXIT_IN_USE),
    ((LocalError, OSError), EXIT_LOCAL),
)


def exit_code_for(exc: BaseException) -> int:
    for kinds, code in EXIT_CODE_BY_TYPE:
        if isinstance(exc, kinds):
            return code
    return EXIT_FAILED
