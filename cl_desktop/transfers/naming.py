"""Names: item types from file names, and local file names made safe from server names."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from .errors import UnsafeNameError

__all__ = [
    "UnsafeNameError",
    "infer_item_type",
    "item_name_for",
    "safe_local_name",
    "unique_item_name",
    "unique_path",
]

_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]')


def infer_item_type(file_name: str) -> str:
    """The Content Library item type for a file: iso, ovf (for .ovf and .ova), else file."""
    suffix = Path(file_name).suffix.lower()
    if suffix == ".iso":
        return "iso"
    if suffix in (".ovf", ".ova"):
        return "ovf"
    return "file"


def item_name_for(path: str) -> str:
    """A new item's name from its file: the stem for templates and ISOs, else the file name."""
    name = Path(path).name
    return Path(name).stem if infer_item_type(name) in ("iso", "ovf") else name


def safe_local_name(server_name: str) -> str:
    """A file name from the server, safe to create inside the target folder.

    Path separators, drive letters, control characters and NUL are replaced, reserved
    device names get a prefix; a name that is nothing but dots or empty is refused.
    """
    name = unicodedata.normalize("NFC", server_name)
    if "\x00" in name:
        raise UnsafeNameError(f"the server sent a file name with a NUL byte: {server_name!r}")
    # keep only the last path component a hostile name may try to climb out with
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    name = _UNSAFE_CHARS.sub("_", name).strip().rstrip(".")
    if not name or set(name) == {"."}:
        raise UnsafeNameError(f"the server sent an unusable file name: {server_name!r}")
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
    return name


def unique_path(path: Path, keep_suffix: bool = True) -> Path:
    """`path`, or `name (2).ext`, `name (3).ext`... if it exists (`name.ext (2)`... for a
    folder, `keep_suffix` False: its dots are part of the name)."""
    if not path.exists():
        return path
    stem, suffix = (path.stem, path.suffix) if keep_suffix else (path.name, "")
    for n in range(2, 10_000):
        candidate = path.with_name(f"{stem} ({n}){suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free name next to {path}")


def unique_item_name(name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`... avoiding the (case-insensitive) names in `taken`."""
    lowered = {t.lower() for t in taken}
    if name.lower() not in lowered:
        return name
    for n in range(2, 10_000):
        candidate = f"{name} ({n})"
        if candidate.lower() not in lowered:
            return candidate
    raise ValueError(f"no free item name like {name!r}")
