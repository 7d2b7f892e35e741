"""The user's preferences, one home for every default: the window and cl-transfer read them.

`preferences.ini` (configparser) lives in the config dir (`paths.config_dir()`; with
`--data-dir` or CL_DESKTOP_DATA_DIR in that dir). A value that cannot be read falls back to
its default with a logged warning: a hand-edited file never stops the program. The window's
own state (geometry, splitters, the last folders) stays in its QSettings file.

Kept small (configparser and dataclasses): `cl-transfer` reads it before each command.
"""

from __future__ import annotations

import configparser
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PREFERENCES_NAME = "preferences.ini"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING")

log = logging.getLogger(__name__)


def _where(section: str, key: str, low: float = -math.inf, high: float = math.inf) -> Any:
    return {"section": section, "key": key, "low": low, "high": high}


@dataclass(frozen=True)
class Preferences:
    """Every user preference, with its default."""

    # transfers at the same time (cl-desktop --parallel and cl-transfer --parallel override)
    parallel_transfers: int = field(default=2, metadata=_where("transfers", "parallel", 1, 32))
    # MB/s (10**6 bytes) shared by the running transfers, as cl-transfer --limit; None: none
    bandwidth_limit: float | None = field(
        default=None, metadata=_where("transfers", "bandwidth_limit_mb_s", 0.01, 1e6)
    )
    # the longest gap between two keep-alives of a transfer's session (shorter when the
    # server's session would expire sooner: a third of its time left)
    keep_alive_seconds: float = field(
        default=60.0, metadata=_where("transfers", "keep_alive_seconds", 1, 3600)
    )
    # downloads go straight into this folder; "": ask each time, starting in the last one
    download_folder: str = field(default="", metadata=_where("downloads", "folder"))
    confirm_quit: bool = field(
        default=True, metadata=_where("confirmations", "quit_while_transferring")
    )
    confirm_replace: bool = field(
        default=True, metadata=_where("confirmations", "replace_files_of_an_item")
    )
    confirm_new_items: bool = field(default=True, metadata=_where("confirmations", "new_items"))
    # how often the Sessions view lists the servers' sessions while it is visible
    sessions_refresh_seconds: float = field(
        default=10.0, metadata=_where("sessions", "refresh_seconds", 1, 3600)
    )
    # the level of the "cl_desktop" logger: DEBUG, INFO or WARNING
    log_level: str = field(default="INFO", metadata=_where("logging", "level"))

    @property
    def bandwidth_limit_bytes(self) -> int | None:
        """The limit in bytes per second, as the transfer queue takes it."""
        return max(1, int(self.bandwidth_limit * 1e6)) if self.bandwidth_limit else None

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level) if self.log_level in LOG_LEVELS else 20


def preferences_path(directory: Path | None = None) -> Path:
    """The preferences file: in `directory`, else the config dir."""
    if directory is None:
        from cl_desktop import paths  # platformdirs: only when the file is looked for

        directory = paths.config_dir()
    return directory / PREFERENCES_NAME


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in configparser.ConfigParser.BOOLEAN_STATES:
        return configparser.ConfigParser.BOOLEAN_STATES[lowered]
    raise ValueError("not yes or no")


def _number(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text.strip())
        if not low <= value <= high:  # also refuses NaN
            raise ValueError(f"not between {low:g} and {high:g}")
        return value

    return parse


def _parser_for(name: str, meta: Any) -> Callable[[str], Any]:
    low, high = meta["low"], meta["high"]
    if name == "parallel_transfers":
        return _number(int, low, high)
    if name == "bandwidth_limit":
        number = _number(float, low, high)
        return lambda text: None if text.strip().lower() in ("", "none", "0") else number(text)
    if name == "log_level":

        def level(text: str) -> str:
            if text.strip().upper() not in LOG_LEVELS:
                raise ValueError("not one of " + ", ".join(LOG_LEVELS))
            return text.strip().upper()

        return level
    if name == "download_folder":
        return lambda text: text.strip()
    if name.startswith("confirm_"):
        return _boolean
    return _number(float, low, high)


def as_texts(prefs: Preferences) -> dict[tuple[str, str], str]:
    """Each preference as the file writes it, by (section, key)."""
    texts = {}
    for f in fields(Preferences):
        value = getattr(prefs, f.name)
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif value is None:
            text = "none"
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))
        else:
            text = str(value)
        texts[(f.metadata["section"], f.metadata["key"])] = text
    return texts


def parse_values(texts: dict[tuple[str, str], str], source: str) -> Preferences:
    """Preferences from (section, key) -> text; a missing key is its default, a bad one too
    (with a warning naming `source`)."""
    values: dict[str, Any] = {}
    for f in fields(Preferences):
        where = (f.metadata["section"], f.metadata["key"])
        if where not in texts:
            continue
        try:
            values[f.name] = _parser_for(f.name, f.metadata)(texts[where])
        except ValueError as exc:
            log.warning(
                "%s[%s] %s = %r is not usable (%s); using the default, %r",
                f"{source}: " if source else "",
                where[0],
                where[1],
                texts[where],
                exc,
                f.default,
            )
    return Preferences(**values)


def load(path: Path | None = None) -> Preferences:
    """The preferences in `path` (default: `preferences_path()`); the defaults when it does
    not exist; a file or value that cannot be read is logged and its default used."""
    path = path or preferences_path()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as stream:
            parser.read_file(stream)
    except FileNotFoundError:
        return Preferences()
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        log.warning("cannot read the preferences %s (%s); using the defaults", path, exc)
        return Preferences()
    texts = {
        (section, key): value
        for section in parser.sections()
        for key, value in parser[section].items()
    }
    return parse_values(texts, str(path))


def save(prefs: Preferences, path: Path | None = None) -> Path:
    """Write `prefs` to `path` (default: `preferences_path()`), replacing it atomically."""
    import tempfile

    path = path or preferences_path()
    parser = configparser.ConfigParser(interpolation=None)
    for (section, key), text in as_texts(prefs).items():
        if not parser.has_section(section):
            parser.add_section(section)
        parser[section][key] = text
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".preferences-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write("# cl_desktop preferences (the window's Settings dialog writes them)\n")
            parser.write(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def apply_log_level(prefs: Preferences) -> None:
    """The "cl_desktop" logger (the handlers are set up elsewhere) logs at the chosen level."""
    logging.getLogger("cl_desktop").setLevel(prefs.log_level_number)
