"""Where cl_desktop keeps its files, and under which names: one answer for the window and the CLI.

The window and `cl-transfer` share one job store, so each shows (and can resume) the other's
jobs. CL_DESKTOP_DATA_DIR moves the data directory (tests, portable installs); the window's
settings then live in it too, as with `cl-desktop --data-dir`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

APP_NAME = "cl-desktop"
KEYRING_SERVICE = APP_NAME  # passwords are stored as "USER@SERVER" under this service
DATA_DIR_ENV = "CL_DESKTOP_DATA_DIR"
JOB_STORE_NAME = "transfers.sqlite"
_LEGACY_CLI_STORE_NAME = "cl-transfer-queue.sqlite"  # the CLI's own store before they merged
_SQLITE_SIDE_FILES = ("-wal", "-shm")

log = logging.getLogger(__name__)


def keyring_key(server: str, user: str) -> str:
    """The keyring entry of a password, one naming for the window and the CLI.

    The server is named as a user types it, "host" or "host:port" ("https://vc:443/" and "VC"
    are both "vc"), so `cl-transfer --server vc` finds what the window stored for https://vc.
    """
    text = server.strip().rstrip("/")
    parts = urlsplit(text if "://" in text else "https://" + text)
    host = (parts.hostname or text).lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    try:
        port = parts.port
    except ValueError:  # not a number: keep the text, the login will say what is wrong
        return f"{user}@{text}"
    if parts.scheme == "https" and port in (None, 443):
        return f"{user}@{host}"
    if parts.scheme == "https":
        return f"{user}@{host}:{port}"
    return f"{user}@{parts.scheme}://{host}:{port or 80}"


def data_dir_override() -> Path | None:
    """The data directory CL_DESKTOP_DATA_DIR names, if it is set."""
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else None


def _dirs() -> platformdirs.PlatformDirs:
    # appauthor=False: no vendor folder on Windows; both programs must agree on it.
    return platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def data_dir() -> Path:
    return data_dir_override() or Path(_dirs().user_data_dir)


def config_dir() -> Path:
    return data_dir_override() or Path(_dirs().user_config_dir)


def log_dir() -> Path:
    override = data_dir_override()
    return override / "logs" if override else Path(_dirs().user_log_dir)


def cache_dir() -> Path:
    override = data_dir_override()
    return override / "cache" if override else Path(_dirs().user_cache_dir)


def job_store_path(directory: Path | None = None) -> Path:
    """The one job store (in `directory`, else the data dir), with the CLI's old store moved in."""
    directory = directory or data_dir()
    path = directory / JOB_STORE_NAME
    adopt_legacy_cli_store(directory / _LEGACY_CLI_STORE_NAME, path)
    return path


def adopt_legacy_cli_store(legacy: Path, path: Path) -> None:
    """Move the CLI's former store into place, unless a shared store already exists.

    If both exist the shared one wins, untouched: merging two job tables would renumber jobs
    that scripts may refer to by id. The old file is kept and its path logged.
    """
    if not legacy.exists():
        return
    if path.exists():
        log.warning("ignoring the old cl-transfer job store %s: %s is in use", legacy, path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in _SQLITE_SIDE_FILES:  # the WAL may hold committed jobs not yet in the file
        side = legacy.with_name(legacy.name + suffix)
        if side.exists():
            side.replace(path.with_name(path.name + suffix))
    legacy.replace(path)
    log.info("moved the cl-transfer job store %s to %s", legacy, path)
