"""Content Library REST client (no Qt): both dialects, typed models, one error hierarchy.

The client and the transport (requests, urllib3, ssl) are imported at first use of their names,
not with the package: the errors and models are all a command line that never connects needs,
and importing requests would be most of its start-up time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .addresses import normalize_server
from .errors import *  # noqa: F403  (the error classes are part of the public API)
from .errors import ContentLibraryError, ProtocolError, TlsTrustError, TransportError, VapiError
from .models import *  # noqa: F403
from .models import Dialect

if TYPE_CHECKING:
    from .client import ContentLibraryClient
    from .transport import PeerCertificate, TlsSettings, fetch_peer_certificate

# name -> the submodule that defines it, imported by __getattr__ when the name is first used
_LAZY = {
    "ContentLibraryClient": "client",
    "PeerCertificate": "transport",
    "TlsSettings": "transport",
    "fetch_peer_certificate": "transport",
}

__all__ = [
    "ContentLibraryClient",
    "ContentLibraryError",
    "Dialect",
    "PeerCertificate",
    "ProtocolError",
    "TlsSettings",
    "TlsTrustError",
    "TransportError",
    "VapiError",
    "fetch_peer_certificate",
    "normalize_server",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later uses are plain attribute reads
    return value
