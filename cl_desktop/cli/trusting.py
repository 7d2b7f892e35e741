"""`trust` and `untrust`: pin a server's certificate from the command line, as the window does.

The same trust store as the window's, so a pin made here is honoured there and the other way
round. A pin is only made for a certificate the user saw (on a terminal, asked) or whose
fingerprint they give (`--sha256`, checked out of band with the server's administrator).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cl_desktop.api import TlsTrustError
from cl_desktop.api.transport import normalize_fingerprint
from cl_desktop.credentials import trust

from .errors import EXIT_OK, UsageError


class NotTrusted(TlsTrustError):
    title = "Not trusted"
    hint = ""
    pinnable = False


def _https_origin(url: str) -> tuple[str, int]:
    where = trust.https_origin(url)
    if where is None:
        raise UsageError(f"trust applies to https servers, not {url}")
    return where


def certificate_lines(details: Any) -> list[str]:
    """The certificate as a person checks it (`details`: a CertificateDetails)."""
    return [
        f"subject:     {details.subject}",
        f"issuer:      {details.issuer}" + (" (self-signed)" if details.self_signed else ""),
        f"names:       {', '.join(details.subject_alt_names) or '(none)'}",
        f"valid:       {details.not_before:%Y-%m-%d} to {details.not_after:%Y-%m-%d}",
        f"SHA-256:     {details.sha256_colons}",
        f"SHA-1:       {details.sha1_colons}",
    ]


def _confirmed(host: str, port: int) -> bool:
    answer = input(f"Trust this certificate for {host}:{port}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run_trust(url: str, args: argparse.Namespace, out: Any) -> int:
    # Imported here: reading certificates needs the cryptography package, which no other
    # command pays for at start-up.
    from cl_desktop.credentials.certificates import read_certificate

    host, port = _https_origin(url)
    details = read_certificate(url)
    pin = trust.pin_for(host, port)
    facts = {
        "host": host,
        "port": port,
        "subject": details.subject,
        "issuer": details.issuer,
        "names": list(details.subject_alt_names),
        "not_before": details.not_before.isoformat(),
        "not_after": details.not_after.isoformat(),
        "sha256": details.sha256,
        "sha1": details.sha1,
    }
    if pin is not None and pin.sha256 == details.sha256:
        already = f"{host}:{port} is trusted already (since {pin.trusted_at})"
        out({**facts, "trusted": True}, already)
        return EXIT_OK
    if not args.json:
        print("\n".join(certificate_lines(details)), file=sys.stderr)
    if pin is not None and not args.replace:
        raise trust.CertificateChanged(host, port, pin.sha256, details.sha256)
    problems = details.problems(host)
    if problems:
        raise NotTrusted(
            " ".join(p.text for p in problems) + " Such a certificate is not pinned; have the "
            "server's certificate renewed or connect by a name it is issued for.",
            operation=f"trust {host}:{port}",
        )
    if args.sha256:
        if normalize_fingerprint(args.sha256) != details.sha256:
            raise NotTrusted(
                f"the server presents SHA-256 {details.sha256_colons}, not the fingerprint "
                "given with --sha256; nothing was pinned.",
                operation=f"trust {host}:{port}",
            )
    elif not sys.stdin.isatty():
        raise UsageError(
            "not on a terminal: check the SHA-256 above with the server's administrator, "
            "then run again with --sha256 FINGERPRINT"
        )
    elif not _confirmed(host, port):
        raise NotTrusted("you chose not to trust it; nothing was pinned.")
    made = trust.trust(host, port, details.sha256, details.subject)
    out({**facts, "trusted": True}, f"trusted {host}:{port} ({made.sha256})")
    return EXIT_OK


def run_untrust(url: str, out: Any) -> int:
    host, port = _https_origin(url)
    removed = trust.forget(host, port)
    text = f"forgot the pin of {host}:{port}" if removed else f"{host}:{port} had no pin"
    out({"host": host, "port": port, "removed": removed}, text)
    return EXIT_OK
