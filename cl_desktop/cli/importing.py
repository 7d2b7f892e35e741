"""`import-url`: the server pulls an http(s) source into an item (Import from URL).

For an https source the server must be told which certificate to accept (its SHA-1
thumbprint): given with `--thumbprint` (checked out of band), or read here, shown, and accepted
on a terminal, as `trust` does for the server's own certificate.
"""

from __future__ import annotations

import argparse
import sys

from cl_desktop.api.transport import sha1_thumbprint

from .errors import UsageError
from .trusting import NotTrusted, certificate_lines


def source_thumbprint(url: str, args: argparse.Namespace) -> str:
    """The thumbprint to send for `url`: "" for http; for https --thumbprint or the one of the
    certificate the user accepted on the terminal."""
    if not url.lower().startswith("https://"):
        return ""
    if args.thumbprint:
        try:
            return sha1_thumbprint(args.thumbprint)
        except ValueError as exc:
            raise UsageError(f"--thumbprint: {exc}") from None
    # Imported here: reading certificates needs the cryptography package.
    from cl_desktop.credentials.certificates import read_certificate

    details = read_certificate(url)
    print(f"The source {url} presents this certificate:", file=sys.stderr)
    print("\n".join(certificate_lines(details)), file=sys.stderr)
    if not sys.stdin.isatty():
        raise UsageError(
            "not on a terminal: check the SHA-1 above with the source's owner, then run again "
            "with --thumbprint SHA1"
        )
    answer = input("Let the server import from the source with this certificate? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise NotTrusted("you chose not to accept the source's certificate; nothing was imported.")
    return details.sha1_colons
