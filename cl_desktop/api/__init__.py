"""Content Library REST client (no Qt): both dialects, typed models, one error hierarchy."""

from .client import ContentLibraryClient, normalize_server
from .errors import *  # noqa: F403  (the error classes are part of the public API)
from .errors import ContentLibraryError, ProtocolError, TlsTrustError, TransportError, VapiError
from .models import *  # noqa: F403
from .models import Dialect
from .transport import PeerCertificate, TlsSettings, fetch_peer_certificate

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
