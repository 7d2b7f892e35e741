"""Server addresses, apart from the HTTP stack: the CLI checks --server at every start, and
importing requests for that would double its start-up time."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalize_server(server: str) -> str:
    """'vc.example', 'vc:8443' or 'https://vc/' -> 'https://vc' (scheme, host, port only)."""
    text = server.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a server address: {server!r}")
    if parts.username is not None or parts.password is not None:
        # kept, the address would carry the password into profiles, the job store and logs
        raise ValueError(
            "the server address holds a user name or password: give the host (and port) only; "
            "the password has a field of its own"
        )
    return f"{parts.scheme}://{parts.netloc}"
