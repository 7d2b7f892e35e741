"""vAPI standard errors and their wire shapes in the two dialects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# HTTP status per error type, as vAPI's REST layer maps them.
HTTP_STATUS: dict[str, int] = {
    "ALREADY_EXISTS": 400,
    "ALREADY_IN_DESIRED_STATE": 400,
    "FEATURE_IN_USE": 400,
    "INVALID_ARGUMENT": 400,
    "INVALID_ELEMENT_CONFIGURATION": 400,
    "INVALID_ELEMENT_TYPE": 400,
    "INVALID_REQUEST": 400,
    "NOT_ALLOWED_IN_CURRENT_STATE": 400,
    "RESOURCE_BUSY": 400,
    "RESOURCE_IN_USE": 400,
    "RESOURCE_INACCESSIBLE": 400,
    "UNABLE_TO_ALLOCATE_RESOURCE": 400,
    "UNSUPPORTED": 400,
    "UNAUTHENTICATED": 401,
    "UNAUTHORIZED": 403,
    "NOT_FOUND": 404,
    "OPERATION_NOT_FOUND": 404,
    "CONCURRENT_CHANGE": 409,
    "INTERNAL_SERVER_ERROR": 500,
    "ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
    "TIMED_OUT": 504,
}

MESSAGE_PREFIX = "com.vmware.vdcs.cls-main."
# The simulator's own ids for these login refusals (vCenter's are not documented; the client
# goes by the words, see docs/PROTOCOL.md).
ACCOUNT_LOCKED_ID = "com.vmware.vapi.endpoint.method.authentication.account_locked"
PASSWORD_EXPIRED_ID = "com.vmware.vapi.endpoint.method.authentication.password_expired"


def localizable(msg_id: str, text: str, args: Sequence[str] = ()) -> dict[str, Any]:
    """A LocalizableMessage as vCenter sends it."""
    return {"id": msg_id, "default_message": text, "args": [str(a) for a in args]}


class ApiError(Exception):
    """An error answered as a vAPI standard error.

    ``key`` becomes the message id (``com.vmware.vdcs.cls-main.<key>``) unless
    ``msg_id`` is given; ``message`` must be a full sentence for humans.
    """

    def __init__(
        self,
        error_type: str,
        message: str,
        *,
        key: str = "error",
        args: Sequence[str] = (),
        msg_id: str | None = None,
    ) -> None:
        super().__init__(message)
        if error_type not in HTTP_STATUS:
            raise ValueError(f"unknown vAPI error type {error_type}")
        self.error_type = error_type
        self.message = message
        self.msg_id = msg_id or MESSAGE_PREFIX + key
        self.args_ = [str(a) for a in args]

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.error_type]

    def payload(self) -> dict[str, Any]:
        """The ``/api`` body (also the ``value`` of the ``/rest`` body)."""
        body: dict[str, Any] = {
            "error_type": self.error_type,
            "messages": [localizable(self.msg_id, self.message, self.args_)],
        }
        if self.error_type == "UNAUTHENTICATED":
            body["challenge"] = 'Basic realm="VAPI endpoint"'
        return body

    def body(self, dialect: str) -> dict[str, Any]:
        """The error body in ``dialect`` ("api" or "rest")."""
        if dialect == "rest":
            return {
                "type": "com.vmware.vapi.std.errors." + self.error_type.lower(),
                "value": self.payload(),
            }
        return self.payload()


# Shorthands for the errors raised all over the service.


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(
        "NOT_FOUND",
        f"The {what} with identifier '{ident}' does not exist.",
        key=what.replace(" ", "_") + "_not_found",
        args=[ident],
    )


def invalid_argument(message: str, *args: str, key: str = "invalid_argument") -> ApiError:
    return ApiError("INVALID_ARGUMENT", message, key=key, args=args)


def not_allowed(message: str, *args: str, key: str = "not_allowed_in_current_state") -> ApiError:
    return ApiError("NOT_ALLOWED_IN_CURRENT_STATE", message, key=key, args=args)


def unauthenticated() -> ApiError:
    return ApiError(
        "UNAUTHENTICATED",
        "Authentication required.",
        msg_id="com.vmware.vapi.endpoint.method.authentication.required",
    )


def unauthorized(user: str, privilege: str) -> ApiError:
    return ApiError(
        "UNAUTHORIZED",
        f"User '{user}' does not have the privilege '{privilege}' required for this operation.",
        key="unauthorized",
        args=[user, privilege],
    )


def operation_not_found(method: str, path: str) -> ApiError:
    return ApiError(
        "OPERATION_NOT_FOUND",
        f"There is no operation for {method} {path}.",
        msg_id="com.vmware.vapi.rest.httpNotFound",
        args=[method, path],
    )


def service_unavailable() -> ApiError:
    return ApiError(
        "SERVICE_UNAVAILABLE",
        "The Content Library Service is temporarily unavailable (injected fault).",
        key="service_unavailable",
    )
