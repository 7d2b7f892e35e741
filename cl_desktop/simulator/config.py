"""Configuration of the embedded Content Library service."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .certs import CertificateError, parse_pem

DIALECTS = frozenset({"api", "rest"})


def _default_users() -> dict[str, str]:
    return {"administrator@vsphere.local": "demo"}


@dataclass
class SimulatorConfig:
    """How the simulator binds, where it keeps its data and who may log in.

    ``port=0`` picks a free port.  ``data_dir=None`` means a fresh temporary
    directory (removed again on ``stop()``).  ``users`` may read and write;
    ``readonly_users`` may log in and read but get UNAUTHORIZED when creating
    libraries, items, update sessions or download sessions.  ``locked_users`` and
    ``expired_password_users`` name accounts whose login is refused with UNAUTHENTICATED
    saying so (docs/PROTOCOL.md has the message ids).  ``session_timeout``
    is the idle timeout of update/download sessions, ``login_timeout`` the idle
    timeout of API login tokens (both in seconds).  ``dialects`` picks which of
    ``/api`` and ``/rest`` are served (the other answers 404).  ``control_api``
    enables the ``/_sim/...`` test endpoints (fault injection, state dump); they are off
    unless asked for and need a login even then.  ``header_timeout`` is how long a
    connection may take to send a request's line and headers (and how long an idle
    keep-alive connection is kept) before it is closed; ``max_connections`` bounds the
    connections served at once (one thread each); more are refused with 503.
    """

    host: str = "127.0.0.1"
    port: int = 0
    data_dir: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    users: dict[str, str] = field(default_factory=_default_users)
    readonly_users: dict[str, str] = field(default_factory=dict)
    # Accounts whose login is refused as vCenter refuses them: locked (whatever the password)
    # or with an expired password (when the password is right).
    locked_users: set[str] = field(default_factory=set)
    expired_password_users: set[str] = field(default_factory=set)
    session_timeout: float = 300.0
    login_timeout: float = 1800.0
    dialects: frozenset[str] = DIALECTS
    control_api: bool = False
    header_timeout: float = 60.0
    max_connections: int = 200
    # Seconds per download "prepare" stage (PREPARE_REQUESTED -> PREPARING -> PREPARED).
    prepare_stage_delay: float = 0.05
    # PEM certificates (CAs or signers) whose signatures on OVF packages are trusted: a .cert
    # chaining to one raises no UNTRUSTED/SELF_SIGNED preview warning. None trusted by default.
    trusted_certificates: tuple[str, ...] = ()
    # A PULL whose source sends nothing for this long ends in ERROR.
    pull_idle_timeout: float = 60.0
    # False: the item copy operation is refused as a server without it answers (404,
    # OPERATION_NOT_FOUND), so a client's fallback can be exercised.
    item_copy: bool = True

    def validate(self) -> None:
        """Raise ValueError for settings the service cannot run with."""
        unknown = set(self.dialects) - DIALECTS
        if unknown:
            raise ValueError(f"unknown dialect(s): {', '.join(sorted(unknown))}")
        if not self.dialects:
            raise ValueError("at least one dialect must be served")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        if self.session_timeout <= 0 or self.login_timeout <= 0 or self.header_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        unknown_users = (self.locked_users | self.expired_password_users) - (
            set(self.users) | set(self.readonly_users)
        )
        if unknown_users:
            raise ValueError(f"no such user(s) to refuse: {', '.join(sorted(unknown_users))}")
        for pem in self.trusted_certificates:
            try:
                parse_pem(pem.encode("ascii", "replace"))
            except CertificateError as exc:
                raise ValueError(f"a trusted certificate cannot be read: {exc}") from None
        overlap = set(self.users) & set(self.readonly_users)
        if overlap:
            raise ValueError(f"user(s) both read-write and read-only: {', '.join(sorted(overlap))}")
