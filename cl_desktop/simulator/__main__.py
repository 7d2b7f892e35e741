"""Command line: ``python -m cl_desktop.simulator [options]``.

Prints exactly one line ``serving BASE_URL`` once it accepts connections and
serves until SIGTERM or Ctrl-C (exit status 0).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .config import SimulatorConfig
from .service import ContentLibraryService

DIALECT_CHOICES = {
    "both": frozenset({"api", "rest"}),
    "api": frozenset({"api"}),
    "rest": frozenset({"rest"}),
}


def _credentials(values: Sequence[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, password = value.partition(":")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"{option} expects NAME:PASSWORD, got {value!r}")
        out[name] = password
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cl_desktop.simulator",
        description="Embedded vSphere Content Library REST service (/api and /rest dialects).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free port)")
    p.add_argument("--data-dir", type=Path, help="where state and content live (default: temp dir)")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate (serve HTTPS)")
    p.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    p.add_argument(
        "--user", action="append", default=[], metavar="NAME:PASSWORD", help="read-write user"
    )
    p.add_argument(
        "--readonly-user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="read-only user",
    )
    p.add_argument(
        "--locked-user",
        action="append",
        default=[],
        metavar="NAME",
        help="refuse this user's login as a locked account",
    )
    p.add_argument(
        "--expired-password-user",
        action="append",
        default=[],
        metavar="NAME",
        help="refuse this user's login (with the right password) as a password expired",
    )
    p.add_argument(
        "--session-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="idle timeout of update/download sessions (default 300)",
    )
    p.add_argument(
        "--login-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="idle timeout of login tokens (default 1800)",
    )
    p.add_argument(
        "--dialect",
        choices=sorted(DIALECT_CHOICES),
        default="both",
        help="which API dialects to serve (default both)",
    )
    p.add_argument(
        "--control-api",
        action="store_true",
        help="serve the /_sim/ fault-injection and state endpoints (off by default; "
        "they need a login)",
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="close a connection whose request headers are not complete in time, "
        "or that stays idle that long (default 60)",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=200,
        metavar="N",
        help="connections served at once; more get 503 (default 200)",
    )
    p.add_argument(
        "--trust-certificate",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="trust OVF signatures chaining to the certificate(s) in this PEM file: no "
        "UNTRUSTED/SELF_SIGNED preview warning for them (repeatable; default: none trusted)",
    )
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v: info, -vv: every request)"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (
        logging.WARNING
        if args.verbose == 0
        else logging.INFO
        if args.verbose == 1
        else logging.DEBUG
    )
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        users = _credentials(args.user, "--user")
        readonly = _credentials(args.readonly_user, "--readonly-user")
        trusted = tuple(path.read_text(encoding="ascii") for path in args.trust_certificate)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        parser.error(f"--trust-certificate: {exc}")
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        readonly_users=readonly,
        locked_users=set(args.locked_user),
        expired_password_users=set(args.expired_password_user),
        session_timeout=args.session_timeout,
        login_timeout=args.login_timeout,
        dialects=DIALECT_CHOICES[args.dialect],
        control_api=args.control_api,
        header_timeout=args.header_timeout,
        max_connections=args.max_connections,
        trusted_certificates=trusted,
    )
    if users:
        config.users = users
    try:
        service = ContentLibraryService(config)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        service.start()
    except OSError as exc:
        print(f"cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"serving {service.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
