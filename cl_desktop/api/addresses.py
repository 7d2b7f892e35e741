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
    return f"{parts.scheme}://{parts.netloc}"
