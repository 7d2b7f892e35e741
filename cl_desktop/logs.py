"""The log files of the window and of `cl-transfer`, and the redaction of secrets in every log line.

One home for both programs: `setup_logging` adds a rotating file in the user log dir
(`paths.log_dir()`; `<data dir>/logs` with --data-dir or CL_DESKTOP_DATA_DIR) and puts a
`Redactor` on every handler of the root logger, so no login token, password or Authorization
header reaches a terminal or a file. The client registers each secret it holds (`add_secret`)
the moment it has it; patterns catch the header forms of the ones it never saw.

A shared leaf: no Qt, no layer of cl_desktop (paths only, imported when a file is set up).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from collections import deque
from pathlib import Path
from typing import TextIO

LOGGER_NAME = "cl_desktop"
WINDOW_LOG = "cl-desktop.log"
CLI_LOG = "cl-transfer.log"
MAX_BYTES = 2 * 1024 * 1024  # a file; with BACKUP_COUNT older ones, 10 MiB at most per program
BACKUP_COUNT = 4
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
MASK = "***"

# --- redaction ----------------------------------------------------------------------------------

_SECRETS_KEPT = 256  # the latest login tokens and passwords of this process
# vCenter's password policy asks 8 characters at least; shorter values (the demo's "demo")
# would mask ordinary words all over the log
_MIN_SECRET = 8
_secrets: deque[str] = deque(maxlen=_SECRETS_KEPT)
_secrets_lock = threading.Lock()
_secret_pattern: re.Pattern[str] | None = None

# The forms a secret takes when headers, URLs or request bodies are printed: values are masked
# even when nobody registered them (another client's token, a header dump by a library).
_PATTERNS = [
    # "vmware-api-session-id: TOKEN", "'vmware-api-session-id': 'TOKEN'", "...=TOKEN"
    re.compile(r"(?i)(vmware-api-session-id['\"]?\s*[:=]\s*['\"]?)[^\s'\",;}\\]+"),
    # "Authorization: Basic b64", "'Authorization': 'Bearer x'"
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?\w+\s+)[^\s'\",;}\\]+"),
    # base64 credentials: with a digit or one of +/= ("Basic authentication" is no secret)
    re.compile(r"(\bBasic\s+)(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}"),
    # "'password': 'x'" (a dict or JSON), "password=x", "CL_PASSWORD=x"
    re.compile(r"(?i)(['\"]password['\"]\s*:\s*['\"])[^'\"]+"),
    re.compile(r"(?i)((?:\b|_)password=)(?!\*\*\*)[^\s&,;)'\"]+"),
    # user:password@host in a URL
    re.compile(r"(://[^/\s:@]+:)[^/\s@]+(?=@)"),
]


def add_secret(value: str | None) -> None:
    """Mask `value` wherever it appears in a log line from now on (a token, a password)."""
    global _secret_pattern
    if not value or len(value) < _MIN_SECRET:
        return
    with _secrets_lock:
        if value in _secrets:
            return
        _secrets.append(value)
        # longest first, so a secret containing another is masked whole
        alternatives = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(map(re.escape, alternatives)))


def redact(text: str) -> str:
    """`text` with every registered secret and every secret-bearing header or field masked."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for form in _PATTERNS:
        text = form.sub(lambda m: m.group(1) + MASK, text)
    return text


class Redactor(logging.Filter):
    """Masks secrets in a record's final message, exception and stack text, in place, so every
    handler after this one sees the masked record too. Never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_cl_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._cl_redacted = True
        return True


REDACTOR = Redactor()


def redact_handlers(logger: logging.Logger | None = None) -> None:
    """Put the redactor on every handler of `logger` (the root) that does not have it."""
    for handler in (logger or logging.getLogger()).handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)


# --- files --------------------------------------------------------------------------------------


def log_dir(data_dir: Path | None = None) -> Path:
    """Where the logs go: `<data_dir>/logs` for a --data-dir instance, else the user log dir."""
    if data_dir is not None:
        return data_dir / "logs"
    from cl_desktop import paths

    return paths.log_dir()


def add_file_handler(path: Path, stderr: TextIO | None = None) -> logging.Handler | None:
    """A rotating file `path` on the root logger, redacted; None (and a warning on stderr) when
    it cannot be written: a log file is never a reason not to run."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
    except OSError as exc:
        print(f"warning: not writing a log file: {exc}", file=stderr or sys.stderr)
        return None
    # No level of its own: the "cl_desktop" logger's level decides (--debug, the preference).
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    handler.addFilter(REDACTOR)
    logging.getLogger().addHandler(handler)
    return handler


def setup_logging(
    file_name: str,
    *,
    level: int = logging.INFO,
    directory: Path | None = None,
    terminal_level: int | None = None,
    terminal_format: str = "%(asctime)s %(levelname)s %(name)s: %(message)s",
) -> logging.Handler | None:
    """The program's logging: a terminal handler (basicConfig, at `terminal_level`, by default
    `level`), `level` for cl_desktop's loggers, and the rotating `file_name` in `directory`
    (default: `log_dir()`), every handler redacted. Returns the file handler, or None."""
    terminal = level if terminal_level is None else terminal_level
    root = logging.getLogger()
    before = list(root.handlers)
    logging.basicConfig(level=terminal, format=terminal_format)
    for handler in root.handlers:
        if handler not in before:
            handler.setLevel(terminal)  # the terminal shows what it showed before
    # The file gets cl_desktop's own records at `level`, even when the terminal shows less.
    logging.getLogger(LOGGER_NAME).setLevel(level)
    file_handler = add_file_handler((directory or log_dir()) / file_name)
    redact_handlers(root)
    return file_handler


def remove_file_handler(handler: logging.Handler | None) -> None:
    """Stop writing the file `add_file_handler` opened (tests; a second setup)."""
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()


def log_file(handler: logging.Handler | None) -> Path | None:
    """The file a handler from `setup_logging` writes."""
    if isinstance(handler, logging.FileHandler):
        return Path(handler.baseFilename)
    return None
