"""Errors of the transfer engine (each has a title and a message), and `describe`, the one place
that turns any exception into what a person reads.

Two families: `TransferError`s come from the server or the conversation with it (they are
`ContentLibraryError`s, like the client's own); `LocalError`s are problems on this machine (a
full disk, an unreadable file, a name that cannot be written) that no server answer explains.
"""

from __future__ import annotations

from cl_desktop.api.errors import ContentLibraryError, DescribedError

from .jobs import FailureKind

INTERNAL_ERROR_TITLE = "Internal error"


class LocalError(DescribedError):
    """Base of the problems on this machine (worded like the client's errors, not one)."""

    title = "Local problem"


class TransferError(ContentLibraryError):
    title = "Transfer failed"


class PreflightError(LocalError):
    """The local files are not fit to upload; found before any byte moved."""

    title = "Files not ready"
    hint = "Nothing was sent; fix the files and retry."


class LocalFileError(LocalError):
    title = "Local file problem"


class DiskFullError(LocalFileError):
    title = "Disk full"
    hint = "Free some space and retry; the partial download is kept and will resume."


class IntegrityError(TransferError):
    """The bytes that arrived are not the bytes that were sent."""

    title = "Checksum mismatch"
    hint = "The copy was not accepted; retry the transfer."


class ServerUnreachable(TransferError):
    """A connection or server failure that outlasted the reconnect window."""

    title = "Server unreachable"
    hint = "Check that the server is running and reachable, then retry the job."


class StalledError(TransferError):
    """The transfer stayed (almost) still for the stall limit, across retries."""

    title = "Transfer stalled"
    hint = "The server or the network is overloaded or stuck; retry the job later."


class UnsafeNameError(LocalError):
    """A name from the server that cannot be turned into a safe local file name."""

    title = "Unusable file name"
    hint = (
        "Nothing was written for it; rename the file in the library (or ask its owner to), "
        "then retry."
    )


class ItemNameTaken(TransferError):
    title = "Name in use"
    hint = "Pick another name, or upload into the existing item."


class NotConnected(TransferError):
    """The connector has no login for the job's server in this run (the GUI's queue holds
    the jobs of every server; those of a server nobody logged in to wait, they do not fail)."""

    title = "Not connected"
    hint = "Connect to that server; its transfers start then."


class Interrupted(Exception):
    # control flow, not an error shown to users
    """Raised inside a worker when the user cancels or pauses the job."""

    def __init__(self, pause: bool) -> None:
        super().__init__("paused" if pause else "canceled")
        self.pause = pause


def describe(exc: BaseException, *, command_line: bool = False) -> tuple[str, str]:
    """(title, message) for any exception: the words the window, the queue and the CLI show
    (`command_line`: with the hints a command line gives, see `DescribedError`)."""
    if isinstance(exc, DescribedError):
        return exc.title, exc.command_line_message if command_line else exc.message
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return LocalFileError.title, f"{where}{exc.strerror or exc}"
    title, message = getattr(exc, "title", None), getattr(exc, "message", None)
    if isinstance(title, str):
        return title, message if isinstance(message, str) and message else str(exc)
    return INTERNAL_ERROR_TITLE, str(exc) or type(exc).__name__


def failure_kind(exc: BaseException) -> FailureKind:
    """The family of an error that ends a job (see `FailureKind`). Anything but the engine's
    own errors is INTERNAL, a raw OSError included: the engine words every local problem as a
    `LocalError`, so one that escaped unworded is a bug (the queue logs its traceback)."""
    if isinstance(exc, IntegrityError):
        return FailureKind.INTEGRITY
    if isinstance(exc, ContentLibraryError):
        return FailureKind.SERVER
    if isinstance(exc, LocalError):
        return FailureKind.LOCAL
    return FailureKind.INTERNAL
