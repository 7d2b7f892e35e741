"""Exit codes, the CLI's own errors, and the one-line message each error becomes."""

from __future__ import annotations

from cl_desktop.api import ContentLibraryError, TlsTrustError, errors
from cl_desktop.transfers.errors import IntegrityError, LocalFileError
from cl_desktop.transfers.queue import JobClaimed

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_TLS, EXIT_INTEGRITY = range(7)
EXIT_LOCAL, EXIT_IN_USE = 7, 8
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
KEYRING_SERVICE = "cl-desktop"
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


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, TlsTrustError):
        return EXIT_TLS
    if isinstance(exc, errors.Unauthenticated | errors.Unauthorized):
        return EXIT_AUTH
    if isinstance(exc, errors.NotFound | NoSuchJob):
        return EXIT_NOT_FOUND
    if isinstance(exc, IntegrityError):
        return EXIT_INTEGRITY
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, LocalFileError | OSError):
        return EXIT_LOCAL
    if isinstance(exc, JobClaimed):
        return EXIT_IN_USE
    return EXIT_FAILED


def title_and_message(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return LocalFileError.title, f"{where}{exc.strerror}"
    if isinstance(exc, OSError):
        return LocalFileError.title, str(exc)
    if isinstance(exc, JobClaimed):
        return "Job in use", f"{exc}; wait for it to finish there, or stop that process"
    return getattr(exc, "title", "Error"), getattr(exc, "message", None) or str(exc)
