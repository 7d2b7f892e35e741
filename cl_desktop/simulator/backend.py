"""The Content Library state machine, independent of the HTTP dialect.

``Backend`` combines the operation mixins over the shared ``State``:

- ``state.py``: the state lock, logins, session bookkeeping and expiry;
- ``libraries.py``: datastores, libraries, items, item files and storage;
- ``updates.py``: UpdateSession, its files, upload tickets;
- ``downloads.py``: DownloadSession, prepare stages, download tickets.

Thread-safe; the lock is never held during byte I/O.
"""

from __future__ import annotations

from .downloads import DownloadOps, DownloadTicket
from .libraries import LibraryOps
from .updates import UpdateOps, UploadTicket

__all__ = ["Backend", "DownloadTicket", "UploadTicket"]


class Backend(LibraryOps, UpdateOps, DownloadOps):
    """All Content Library operations."""
