"""Validation of request arguments; every failure is an INVALID_ARGUMENT."""

from __future__ import annotations

import uuid
from typing import Any

from .errors import invalid_argument
from .models import JSON

WARNING_TYPES = (
    "SELF_SIGNED_CERTIFICATE",
    "EXPIRED_CERTIFICATE",
    "NOT_YET_VALID_CERTIFICATE",
    "UNTRUSTED_CERTIFICATE",
)


def as_spec(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        raise invalid_argument(f"The {what} is required.", what, key="missing_spec")
    if not isinstance(value, dict):
        raise invalid_argument(f"The {what} must be a JSON object.", what, key="invalid_spec")
    return value


def opt_str(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_argument(f"'{key}' must be a string.", key, key="invalid_type")
    return value


def req_str(spec: dict[str, Any], key: str) -> str:
    value = opt_str(spec, key)
    if value is None or value == "":
        raise invalid_argument(f"'{key}' is required.", key, key="missing_field")
    return value


def opt_int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_argument(f"'{key}' must be an integer.", key, key="invalid_type")
    return value


def check_client_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        uuid.UUID(token)
    except (ValueError, AttributeError, TypeError):
        raise invalid_argument(
            f"The client token '{token}' is not a UUID.", str(token), key="invalid_client_token"
        ) from None
    return token


def check_file_name(name: str) -> None:
    bad = name in (".", "..") or any(c in name for c in "/\\\0") or len(name.encode("utf-8")) > 200
    if bad:
        raise invalid_argument(
            f"The file name '{name}' is not valid (no path separators, at most 200 bytes).",
            name,
            key="invalid_file_name",
        )


def parse_warning_behavior(value: Any) -> list[JSON] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid_argument("'warning_behavior' must be a list.", key="invalid_type")
    out: list[JSON] = []
    for entry in value:
        if not isinstance(entry, dict) or entry.get("type") not in WARNING_TYPES:
            raise invalid_argument(
                f"Invalid warning behavior {entry!r}: 'type' must be one of "
                + ", ".join(WARNING_TYPES)
                + ".",
                key="invalid_warning_behavior",
            )
        out.append({"type": entry["type"], "ignored": bool(entry.get("ignored", False))})
    return out
