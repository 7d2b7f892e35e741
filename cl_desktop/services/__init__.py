"""Qt services (QtCore only): where worker threads meet the GUI thread."""

from .browser import LibraryBrowser
from .connection import Connector, LoginRequest
from .errors import ErrorInfo, ErrorKind
from .tasks import BackgroundTasks
from .transfers import TransferService
from .workers import QThreadSpawner

__all__ = [
    "BackgroundTasks",
    "Connector",
    "ErrorInfo",
    "ErrorKind",
    "LibraryBrowser",
    "LoginRequest",
    "QThreadSpawner",
    "TransferService",
]
