"""ErrorInfo: what the GUI shows for an exception (title, actionable message, details)."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from enum import StrEnum

from cl_desktop.api.errors import (
    ContentLibraryError,
    NoSuchHost,
    NotTls,
    ServiceUnavailable,
    TlsTrustError,
    TransportError,
    Unauthenticated,
    Unauthorized,
)
from cl_desktop.transfers.errors import LocalError, describe


class ErrorKind(StrEnum):
    """What kind of trouble it is, so the GUI can react by type (re-login, retry, crash)."""

    AUTH = "auth"
    TLS = "tls"
    CONNECTION = "connection"
    SERVER = "server"
    LOCAL = "local"  # a local file problem
    BUG = "bug"


@dataclass(frozen=True)
class ErrorInfo:
    """A frozen, thread-safe description of a failure."""

    title: str
    message: str
    kind: ErrorKind = ErrorKind.SERVER
    details: str = ""  # the traceback, for bugs
    # likely to pass by itself (connection lost, 503 while the server's services restart)
    transient: bool = False

    @property
    def text(self) -> str:
        """One line for a status bar or a clipboard."""
        return f"{self.title}: {self.message}" if self.message else self.title

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        title, message = describe(exc)
        if isinstance(exc, ContentLibraryError):
            kind = ErrorKind.SERVER
            if isinstance(exc, TlsTrustError):
                kind = ErrorKind.TLS
            elif isinstance(exc, TransportError):
                kind = ErrorKind.CONNECTION
            elif isinstance(exc, Unauthenticated | Unauthorized):
                kind = ErrorKind.AUTH
            # A misspelt host or a wrong port stays wrong however often it is tried; a refused
            # or timed-out connection may be a vCenter restarting.
            transient = (
                kind is ErrorKind.CONNECTION and not isinstance(exc, NoSuchHost | NotTls)
            ) or isinstance(exc, ServiceUnavailable)
            return cls(title, message, kind, transient=transient)
        if isinstance(exc, LocalError | OSError):
            return cls(title, message, ErrorKind.LOCAL)
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls("Unexpected error", f"{type(exc).__name__}: {exc}", ErrorKind.BUG, details)
