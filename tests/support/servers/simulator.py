"""Start the project's embedded Content Library service (cl_desktop.simulator) in-process.

    with SimulatorServer(tmp_path, dialects={"rest"}) as svc:
        svc.base_url, svc.default_library_id, svc.faults

cl_desktop.simulator is imported lazily, so this module imports even before (or
without) the simulator.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .target import Dialect, ServerTarget

DEFAULT_USERS: Mapping[str, str] = {"admin": "secret"}
DEFAULT_READONLY_USERS: Mapping[str, str] = {"reader": "secret"}


def _simulator_module() -> Any:
    return importlib.import_module("cl_desktop.simulator")


def simulator_unavailable_reason() -> str | None:
    """None when cl_desktop.simulator provides ContentLibraryService and SimulatorConfig.

    Only a missing module or missing names count as "unavailable"; any other error
    raised while importing the simulator propagates (it is a bug, not a skip).
    """
    try:
        mod = _simulator_module()
    except ModuleNotFoundError as exc:
        if exc.name in ("cl_desktop", "cl_desktop.simulator"):
            return f"cl_desktop.simulator not importable: {exc}"
        raise
    missing = [n for n in ("ContentLibraryService", "SimulatorConfig") if not hasattr(mod, n)]
    if missing:
        return f"cl_desktop.simulator does not define {', '.join(missing)} yet"
    return None


class SimulatorServer:
    """Context manager around ``ContentLibraryService`` bound to 127.0.0.1 on a free port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        dialects: Iterable[Dialect] = ("api", "rest"),
        users: Mapping[str, str] = DEFAULT_USERS,
        readonly_users: Mapping[str, str] = DEFAULT_READONLY_USERS,
        session_timeout: float = 300.0,
        control_api: bool = False,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        locked_users: Iterable[str] = (),
        expired_password_users: Iterable[str] = (),
    ) -> None:
        mod = _simulator_module()
        self.config = mod.SimulatorConfig(
            host="127.0.0.1",
            port=0,
            data_dir=Path(data_dir),
            users=dict(users),
            readonly_users=dict(readonly_users),
            session_timeout=session_timeout,
            dialects=frozenset(dialects),
            control_api=control_api,
            tls_cert=tls_cert,
            tls_key=tls_key,
            locked_users=set(locked_users),
            expired_password_users=set(expired_password_users),
        )
        self.service: Any = mod.ContentLibraryService(self.config)
        self._started = False

    def start(self) -> Any:
        self.service.start()
        self._started = True
        return self.service

    def stop(self) -> None:
        if self._started:
            self._started = False
            self.service.stop()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def simulator_datastore_id(service: Any) -> str | None:
    """The datastore id the simulator accepts in storage_backings (it has exactly one)."""
    for source in (service, _simulator_module()):
        if value := getattr(source, "datastore_id", None) or getattr(source, "DATASTORE_ID", None):
            return str(value)
    try:
        models = importlib.import_module("cl_desktop.simulator.models")
    except ModuleNotFoundError:
        return None
    value = getattr(models, "DATASTORE_ID", None)
    return str(value) if value else None


def simulator_target(
    service: Any,
    *,
    name: str,
    dialect: Dialect,
    username: str = "admin",
    password: str | None = None,
) -> ServerTarget:
    """Describe a running ``ContentLibraryService`` as a ServerTarget."""
    config = service.config if hasattr(service, "config") else None
    if password is None:
        password = config.users[username] if config is not None else DEFAULT_USERS[username]
    tls_cert = getattr(config, "tls_cert", None)
    return ServerTarget(
        name=name,
        base_url=str(service.base_url).rstrip("/"),
        username=username,
        password=password,
        ca_file=str(tls_cert) if tls_cert else None,
        dialect=dialect,
        datastore_id=simulator_datastore_id(service),
        kind="simulator",
        service=service,
    )
