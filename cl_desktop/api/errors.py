"""One exception hierarchy for everything the Content Library client can raise.

Every error has a short `title` and a `message` a person can act on. Server errors are chosen by
their vAPI `error_type` (the status code differs between releases); a body that
is not vAPI JSON (vcsim, proxies) is mapped by HTTP status instead.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any, ClassVar

from .models import LocalizableMessage, decode_list


class DescribedError(Exception):
    """An error worded for people: a title, the detail, and a hint of what to do."""

    title: ClassVar[str] = "Error"
    hint: ClassVar[str] = ""
    # The hint on a command line, where one that names the window's controls ("refresh the
    # view") means nothing; None: `hint` fits both. The detail is the same for both.
    command_line_hint: ClassVar[str | None] = None

    def __init__(self, message: str, *, operation: str = "") -> None:
        self.operation = operation
        self.detail = message
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The detail, what was being done, and what the user can do about it."""
        return self._with_hint(self.hint)

    @property
    def command_line_message(self) -> str:
        """`message` with the command line's hint."""
        hint = self.hint if self.command_line_hint is None else self.command_line_hint
        return self._with_hint(hint)

    def _with_hint(self, hint: str) -> str:
        text = f"{self.operation}: {self.detail}" if self.operation else self.detail
        if not hint:
            return text
        text = text.rstrip()
        if text and text[-1] not in ".!?":  # the detail is a clause; the hint a sentence
            text += "."
        return f"{text} {hint}".strip()


class ContentLibraryError(DescribedError):
    """Base of every error raised by cl_desktop.api (from the server or the way to it)."""

    title = "Content Library error"


class TransportError(ContentLibraryError):
    """The server could not be reached, or the connection broke or timed out."""

    title = "Connection problem"
    hint = "Check the server address and the network, then try again."


class NoSuchHost(TransportError):
    """The server name did not resolve (a typo, or no DNS server answering for it)."""

    title = "No such host"
    hint = "Check the spelling of the server name, and this computer's network and DNS."


class ConnectionRefused(TransportError):
    """Nothing listens on that port (or a firewall rejects it)."""

    title = "Connection refused"
    hint = (
        "Check the port and that the server is running; a vCenter whose services are "
        "restarting refuses connections for a few minutes."
    )


class ConnectTimedOut(TransportError):
    """No answer to the connection attempt at all (a wrong address, or a firewall dropping it)."""

    title = "Timed out connecting"
    hint = "Check the server address, and that no firewall or VPN blocks the way to it."


class ReadTimedOut(TransportError):
    """A connected server sent nothing for the read timeout (a stall, when bytes should move)."""


class NotTls(TransportError):
    """The port answered, but not with TLS (an http-only server reached with https)."""

    title = "Not a TLS port"
    hint = "Otherwise check the port: vCenter serves its API over https on 443."


class CertificateProblem(StrEnum):
    """Why a certificate was refused, for code that treats the cases apart (the trust dialog)."""

    UNTRUSTED_ISSUER = "untrusted-issuer"
    SELF_SIGNED = "self-signed"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    HOSTNAME_MISMATCH = "hostname-mismatch"
    PIN_MISMATCH = "pin-mismatch"
    HANDSHAKE = "handshake"  # TLS failed before any certificate could be judged


_CHECK_WITH_ADMIN = (
    "Give the CA certificate file of this server (for a vCenter, its VMCA root certificate), "
    "or pin its certificate's SHA-256 fingerprint after checking it with the server's "
    "administrator."
)


class TlsTrustError(TransportError):
    """The server's certificate is not trusted (or does not match the pinned fingerprint).

    `reason` tells the cases apart; `pinnable` says whether trusting (pinning) this very
    certificate is a sensible answer, which it is not for an expired or misnamed one."""

    title = "Untrusted certificate"
    hint = _CHECK_WITH_ADMIN
    reason: ClassVar[CertificateProblem] = CertificateProblem.UNTRUSTED_ISSUER
    pinnable: ClassVar[bool] = True


class UntrustedCertificate(TlsTrustError):
    """Signed by a certificate authority this computer does not trust (vCenter's own VMCA)."""


class SelfSignedCertificate(UntrustedCertificate):
    """The certificate signed itself: no authority vouches for it."""

    reason = CertificateProblem.SELF_SIGNED


class CertificateExpired(TlsTrustError):
    title = "Certificate expired"
    hint = (
        "Ask the server's administrator to renew the certificate; do not trust an expired "
        "certificate in its place."
    )
    reason = CertificateProblem.EXPIRED
    pinnable = False


class CertificateNotYetValid(TlsTrustError):
    title = "Certificate not yet valid"
    hint = (
        "Check the date and time of this computer and of the server: one of the clocks is "
        "probably wrong."
    )
    reason = CertificateProblem.NOT_YET_VALID
    pinnable = False


class HostnameMismatch(TlsTrustError):
    title = "Certificate for another name"
    hint = (
        "Connect with a name the certificate was issued for (usually the vCenter's full DNS "
        "name, not an alias or an IP address), or ask the administrator for a certificate "
        "that lists this name."
    )
    reason = CertificateProblem.HOSTNAME_MISMATCH
    pinnable = False


class PinMismatch(TlsTrustError):
    title = "Certificate does not match the pin"
    hint = (
        "The server presents another certificate than the one pinned; check with the "
        "server's administrator before pinning the new one."
    )
    reason = CertificateProblem.PIN_MISMATCH
    pinnable = False


class TlsHandshakeFailed(TlsTrustError):
    title = "TLS handshake failed"
    hint = "The server and this computer found no common way to talk TLS; check the address."
    reason = CertificateProblem.HANDSHAKE
    pinnable = False


class CaFileError(ContentLibraryError):
    """The CA file given for trusting the server is missing or not a PEM certificate file."""

    title = "Unusable CA file"
    hint = (
        "Give the PEM file of the CA that signed the server's certificate (it begins with "
        "-----BEGIN CERTIFICATE-----), or no CA file to use the system's trusted CAs."
    )


class ProtocolError(ContentLibraryError):
    """The server answered something this client cannot understand."""

    title = "Unexpected server response"
    hint = (
        "The server may not be a vCenter Content Library endpoint, or its version is unsupported."
    )


class NotAVCenter(ProtocolError):
    """The server answered the login, but not as a vCenter (a web server, a proxy's page)."""

    title = "Not a vCenter"
    hint = "Check the server address and port: they must be those of a vCenter Server."


class VapiError(ContentLibraryError):
    """An error reported by the server as a vAPI standard error (com.vmware.vapi.std.errors)."""

    error_type: ClassVar[str] = "ERROR"
    title = "Server error"

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status: int | None = None,
        messages: tuple[LocalizableMessage, ...] = (),
        data: Any = None,
    ) -> None:
        self.status = status
        self.messages = messages
        self.data = data
        super().__init__(message, operation=operation)


def _vapi(
    name: str, error_type: str, title: str, hint: str = "", command_line_hint: str | None = None
) -> type[VapiError]:
    attributes = {
        "error_type": error_type,
        "title": title,
        "hint": hint,
        "command_line_hint": command_line_hint,
    }
    cls = type(name, (VapiError,), attributes)
    cls.__doc__ = f"vAPI {error_type}: {title.lower()}."
    cls.__module__ = __name__
    return cls


AlreadyExists = _vapi("AlreadyExists", "ALREADY_EXISTS", "Already exists", "Choose another name.")
AlreadyInDesiredState = _vapi("AlreadyInDesiredState", "ALREADY_IN_DESIRED_STATE", "Already done")
Canceled = _vapi("Canceled", "CANCELED", "Canceled")
ConcurrentChange = _vapi(
    "ConcurrentChange",
    "CONCURRENT_CHANGE",
    "Changed by someone else",
    "Refresh and try again.",
    "Try again.",
)
FeatureInUse = _vapi("FeatureInUse", "FEATURE_IN_USE", "Feature in use")
InternalServerError = _vapi(
    "InternalServerError",
    "INTERNAL_SERVER_ERROR",
    "Internal server error",
    "Try again; if it persists, check the vCenter Content Library service logs.",
)
InvalidArgument = _vapi("InvalidArgument", "INVALID_ARGUMENT", "Invalid argument")
InvalidElementConfiguration = _vapi(
    "InvalidElementConfiguration", "INVALID_ELEMENT_CONFIGURATION", "Invalid configuration"
)
InvalidElementType = _vapi(
    "InvalidElementType",
    "INVALID_ELEMENT_TYPE",
    "Wrong kind of object",
    "Subscribed libraries are read-only; upload into a local library.",
)
InvalidRequest = _vapi("InvalidRequest", "INVALID_REQUEST", "Invalid request")
NotAllowedInCurrentState = _vapi(
    "NotAllowedInCurrentState",
    "NOT_ALLOWED_IN_CURRENT_STATE",
    "Not allowed now",
    "Refresh to see the object's current state.",
    "List it again to see its current state.",
)
NotFound = _vapi(
    "NotFound",
    "NOT_FOUND",
    "Not found",
    "It may have been deleted or expired; refresh the view.",
    "It may have been deleted or expired.",
)
OperationNotFound = _vapi(
    "OperationNotFound",
    "OPERATION_NOT_FOUND",
    "Operation not supported",
    "The server does not offer this operation; check the vCenter version.",
)
ResourceBusy = _vapi(
    "ResourceBusy",
    "RESOURCE_BUSY",
    "Busy",
    "Another update session holds this item; wait for it, or cancel it in the session monitor.",
    "Another update session holds this item; wait for it, or cancel it "
    "(`cl-transfer sessions` lists them, `session cancel ID` cancels one).",
)
ResourceInUse = _vapi("ResourceInUse", "RESOURCE_IN_USE", "In use")
ResourceInaccessible = _vapi(
    "ResourceInaccessible",
    "RESOURCE_INACCESSIBLE",
    "Storage inaccessible",
    "Check the library's datastore.",
)
ServiceUnavailable = _vapi(
    "ServiceUnavailable",
    "SERVICE_UNAVAILABLE",
    "Service unavailable",
    "The Content Library service is down or overloaded; try again shortly.",
)
TimedOut = _vapi("TimedOut", "TIMED_OUT", "Timed out", "Try again.")
UnableToAllocateResource = _vapi(
    "UnableToAllocateResource",
    "UNABLE_TO_ALLOCATE_RESOURCE",
    "Out of resources",
    "The datastore may be full.",
)
Unauthenticated = _vapi(
    "Unauthenticated",
    "UNAUTHENTICATED",
    "Login failed",
    "Check the user name and password; the login session may have expired.",
)
Unauthorized = _vapi(
    "Unauthorized",
    "UNAUTHORIZED",
    "Permission denied",
    "Ask your vCenter administrator for the ContentLibrary privileges this needs.",
)
UnexpectedInput = _vapi("UnexpectedInput", "UNEXPECTED_INPUT", "Unexpected input")
Unsupported = _vapi("Unsupported", "UNSUPPORTED", "Unsupported")
UnverifiedPeer = _vapi(
    "UnverifiedPeer",
    "UNVERIFIED_PEER",
    "Unverified peer",
    "The server could not verify a remote certificate.",
)

ERROR_TYPES: dict[str, type[VapiError]] = {
    cls.error_type: cls
    for cls in (
        VapiError,
        AlreadyExists,
        AlreadyInDesiredState,
        Canceled,
        ConcurrentChange,
        FeatureInUse,
        InternalServerError,
        InvalidArgument,
        InvalidElementConfiguration,
        InvalidElementType,
        InvalidRequest,
        NotAllowedInCurrentState,
        NotFound,
        OperationNotFound,
        ResourceBusy,
        ResourceInUse,
        ResourceInaccessible,
        ServiceUnavailable,
        TimedOut,
        UnableToAllocateResource,
        Unauthenticated,
        Unauthorized,
        UnexpectedInput,
        Unsupported,
        UnverifiedPeer,
    )
}

# For bodies that are not vAPI JSON (vcsim's plain-text 404, empty 400/401, proxies).
_BY_STATUS: dict[int, type[VapiError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: Unauthorized,
    404: NotFound,
    409: ConcurrentChange,
    500: InternalServerError,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: TimedOut,
}

_STATUS_TEXT = {
    400: "the server rejected the request",
    401: "authentication required",
    403: "permission denied",
    404: "no such object",
    409: "the object was changed concurrently",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def _error_type_of(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(error_type, the vAPI error structure) from an /api or /rest error body."""
    if "error_type" in body:
        return str(body["error_type"]), body
    value = body.get("value")
    inner = value if isinstance(value, dict) else {}
    if "error_type" in inner:
        return str(inner["error_type"]), inner
    type_name = body.get("type")
    if isinstance(type_name, str) and type_name.startswith("com.vmware.vapi.std.errors."):
        return type_name.rsplit(".", 1)[1].upper(), inner
    return None, inner


def error_from_response(status: int, body: bytes, *, operation: str = "") -> VapiError:
    """The exception for an HTTP error answer, by vAPI error_type first, then by status."""
    parsed: Any = None
    if body.strip():
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        error_type, structure = _error_type_of(parsed)
        if error_type is not None:
            messages = decode_list(LocalizableMessage, structure.get("messages"))
            cls = ERROR_TYPES.get(error_type) or _BY_STATUS.get(status, VapiError)
            text = " ".join(str(m) for m in messages if str(m)) or _default_text(error_type)
            return cls(
                text,
                operation=operation,
                status=status,
                messages=messages,
                data=structure.get("data"),
            )
    cls = _BY_STATUS.get(status, VapiError)
    text = _STATUS_TEXT.get(status, f"HTTP {status}")
    snippet = body[:200].decode("utf-8", "replace").strip() if not isinstance(parsed, dict) else ""
    if snippet and "<" not in snippet:  # plain text is informative; an HTML error page is not
        text = f"{text} ({snippet})"
    return cls(text, operation=operation, status=status)


def _default_text(error_type: str) -> str:
    return error_type.replace("_", " ").lower()


# --- login failures, each in its own words ---------------------------------------------------


class WrongCredentials(Unauthenticated):  # type: ignore[misc,valid-type]
    """The server refused this user name and password at login."""

    title = "Wrong user name or password"
    hint = (
        "Check both and try again; vCenter user names usually include the domain "
        "(name@vsphere.local). Repeated failures can lock the account."
    )


class AccountLocked(Unauthenticated):  # type: ignore[misc,valid-type]
    """The server reports the account as locked (too many failed logins, or by an admin)."""

    title = "Account locked"
    hint = (
        "Wait for the lock to expire (vCenter unlocks after a few minutes by default), or ask "
        "the vCenter administrator to unlock the account."
    )


class PasswordExpired(Unauthenticated):  # type: ignore[misc,valid-type]
    """The password is right but expired: the server wants it changed before any login."""

    title = "Password expired"
    hint = (
        "Change the password (in the vSphere Client, or ask the vCenter administrator), then "
        "log in with the new one."
    )


class ServiceStarting(ServiceUnavailable):  # type: ignore[misc,valid-type]
    """A 503 at login: the vCenter's services are starting or restarting (it passes)."""

    title = "vCenter not ready"
    hint = "Its services are starting or restarting; wait a few minutes and connect again."


# The real vCenter message ids for these are not documented: classify by their words.
_LOCKED = re.compile(r"locked", re.IGNORECASE)
_PASSWORD_EXPIRED = re.compile(r"password.*expired|expired.*password", re.IGNORECASE)


def login_error(exc: VapiError, *, user: str, server: str) -> VapiError:
    """The error for a refused or failed login, in words that name the user and the server."""
    said = " ".join(f"{m.id} {m.default_message}" for m in exc.messages)
    server_text = f" ({exc.detail})" if exc.messages else ""
    cls: type[VapiError]
    if isinstance(exc, Unauthenticated):
        if _LOCKED.search(said):
            cls, text = AccountLocked, f"{server} reports the account '{user}' as locked"
        elif _PASSWORD_EXPIRED.search(said):
            cls, text = PasswordExpired, f"the password of '{user}' on {server} has expired"
        else:
            cls, text = WrongCredentials, f"{server} refused user '{user}' with this password"
    elif isinstance(exc, ServiceUnavailable):
        cls, text = ServiceStarting, f"{server} is not ready to log in (HTTP {exc.status})"
    else:
        return exc
    return cls(
        f"{text}{server_text}.",
        operation=exc.operation,
        status=exc.status,
        messages=exc.messages,
        data=exc.data,
    )
