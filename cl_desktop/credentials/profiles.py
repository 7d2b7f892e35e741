"""Saved connection profiles: where and as whom to connect; never a password (the keyring's job)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from cl_desktop import paths

from ._jsonfile import read_json, write_json

PROFILES_NAME = "connection-profiles.json"

Dialect = Literal["auto", "api", "rest"]


@dataclass(frozen=True)
class Profile:
    name: str
    server: str  # host[:port]
    user: str
    dialect: Dialect = "auto"
    ca_file: str | None = None
    remember_password: bool = False
    connect_on_start: bool = False


def profiles_path() -> Path:
    return paths.config_dir() / PROFILES_NAME


def _load() -> dict[str, Any]:
    return dict(read_json(profiles_path(), {}))


def _profile(raw: dict[str, Any]) -> Profile:
    known = {f.name for f in fields(Profile)}  # a newer version's extra keys are ignored
    return Profile(**{k: v for k, v in raw.items() if k in known})


def list_profiles() -> list[Profile]:
    return [_profile(p) for p in _load().get("profiles", [])]


def save(profile: Profile) -> None:
    """Add the profile, or replace the one of the same name."""
    data = _load()
    others = [p for p in data.get("profiles", []) if p.get("name") != profile.name]
    data["profiles"] = [*others, asdict(profile)]
    write_json(profiles_path(), data)


def remove(name: str) -> bool:
    data = _load()
    kept = [p for p in data.get("profiles", []) if p.get("name") != name]
    if len(kept) == len(data.get("profiles", [])):
        return False
    data["profiles"] = kept
    if data.get("last_used") == name:
        data.pop("last_used")
    write_json(profiles_path(), data)
    return True


def last_used() -> Profile | None:
    name = _load().get("last_used")
    return find(name) if name else None


def set_last_used(name: str) -> None:
    data = _load()
    data["last_used"] = name
    write_json(profiles_path(), data)


MAX_RECENT = 8


@dataclass(frozen=True)
class RecentServer:
    server: str  # host[:port], as it was typed
    user: str


def recent() -> list[RecentServer]:
    """The servers connected to lately, the latest first."""
    return [RecentServer(r["server"], r["user"]) for r in _load().get("recent", [])]


def add_recent(server: str, user: str) -> None:
    data = _load()
    entry = asdict(RecentServer(server, user))
    others = [r for r in data.get("recent", []) if r != entry]
    data["recent"] = [entry, *others][:MAX_RECENT]
    write_json(profiles_path(), data)


def find(name: str) -> Profile | None:
    return next((p for p in list_profiles() if p.name == name), None)
