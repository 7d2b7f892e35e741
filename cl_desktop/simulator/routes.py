"""URL routing of the two dialects onto the backend operations.

``/api`` (7.0U2+) and ``/rest`` (6.5-7.0U1) differ only in paths, where
parameters live and how results and errors are wrapped; the operations below
are shared.  A ``Call`` hides the differences in *where* parameters live:

- ``call.arg(name)`` looks in path parameters, then the query, then the JSON body (a bare
  ``?name`` key defers to the body's ``name``);
- ``call.spec(member)`` is the whole body on ``/api`` and ``body[member]`` on ``/rest``
  (``create_spec``, ``update_spec``, ``file_spec``, ``spec``);
- ``call.client_token()`` is the ``Client-Token`` header on ``/api`` and the
  ``client_token`` body member on ``/rest``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote

from .backend import Backend
from .errors import ApiError, operation_not_found
from .models import Principal

Op = Callable[[Backend, "Call"], Any]


@dataclass
class Call:
    """One API request, as the operations see it."""

    dialect: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    headers: Message
    base: str  # scheme://host:port for data URIs
    token: str | None = None
    principal: Principal | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def who(self) -> Principal:
        if self.principal is None:
            raise AssertionError("operation needs an authenticated caller")
        return self.principal

    def arg(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        body = self.body if isinstance(self.body, dict) else {}
        # A bare "?name" (no value) only selects the operation; vCenter's generated clients
        # then send the value in the JSON body (GET .../file?name with {"name": ...}).
        if name in self.query and (self.query[name] or name not in body):
            return self.query[name]
        return body.get(name)

    def str_arg(self, name: str) -> str | None:
        value = self.arg(name)
        return value if isinstance(value, str) else None

    def spec(self, member: str) -> Any:
        if self.dialect == "api":
            return self.body
        if isinstance(self.body, dict):
            return self.body.get(member)
        return None

    def client_token(self) -> str | None:
        header = self.headers.get("Client-Token")
        if header:
            return str(header)
        if self.dialect == "api":
            return self.query.get("client_token")
        value = self.body.get("client_token") if isinstance(self.body, dict) else None
        return None if value is None else str(value)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    action: str | None
    op: Op
    created: bool = False  # /api answers 201 instead of 200
    auth: bool = True


# -- operations ------------------------------------------------------------------------------


def _basic_auth(call: Call) -> tuple[str, str]:
    header = str(call.headers.get("Authorization") or "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if sep:
            return user, password
    raise ApiError(
        "UNAUTHENTICATED",
        "Authentication required: send HTTP Basic credentials to create a session.",
        msg_id="com.vmware.vapi.endpoint.method.authentication.required",
    )


def op_login(b: Backend, c: Call) -> Any:
    user, password = _basic_auth(c)
    token = b.login(user, password)
    if c.dialect == "rest" and str(c.headers.get("vmware-use-header-authn", "")).lower() != "true":
        c.response_headers.append(
            ("Set-Cookie", f"vmware-api-session-id={token}; Path=/rest; HttpOnly")
        )
    return token


def op_session_get(b: Backend, c: Call) -> Any:
    return b.session_info(c.token)


def op_logout(b: Backend, c: Call) -> Any:
    b.logout(c.token)


def op_datastore_list(b: Backend, c: Call) -> Any:
    return b.datastores()


def op_datastore_get(b: Backend, c: Call) -> Any:
    return b.datastore(c.params["datastore"])


def op_library_list(b: Backend, c: Call) -> Any:
    return b.list_libraries()


def op_library_get(b: Backend, c: Call) -> Any:
    return b.get_library(c.params["library_id"])


def op_library_find(b: Backend, c: Call) -> Any:
    return b.find_libraries(c.spec("spec"))


def op_library_create(b: Backend, c: Call) -> Any:
    return b.create_library(c.who, c.spec("create_spec"), c.client_token())


def op_library_delete(b: Backend, c: Call) -> Any:
    b.delete_library(c.who, c.params["library_id"])


def op_item_list(b: Backend, c: Call) -> Any:
    return b.list_items(c.str_arg("library_id"))


def op_item_get(b: Backend, c: Call) -> Any:
    return b.get_item(c.params["library_item_id"])


def op_item_find(b: Backend, c: Call) -> Any:
    return b.find_items(c.spec("spec"))


def op_item_create(b: Backend, c: Call) -> Any:
    return b.create_item(c.who, c.spec("create_spec"), c.client_token())


def op_item_update(b: Backend, c: Call) -> Any:
    b.update_item(c.who, c.params["library_item_id"], c.spec("update_spec"))


def op_item_delete(b: Backend, c: Call) -> Any:
    b.delete_item(c.who, c.params["library_item_id"])


def _item_id(c: Call) -> str:
    item_id = c.str_arg("library_item_id")
    if not item_id:
        raise ApiError("INVALID_ARGUMENT", "'library_item_id' is required.", key="missing_field")
    return item_id


def op_item_file_list(b: Backend, c: Call) -> Any:
    return b.item_files(_item_id(c))


def op_item_file_get(b: Backend, c: Call) -> Any:
    return b.item_file(_item_id(c), c.str_arg("name"))


def op_item_file_list_or_get(b: Backend, c: Call) -> Any:
    if "name" in c.query:
        return op_item_file_get(b, c)
    return op_item_file_list(b, c)


def op_storage_list(b: Backend, c: Call) -> Any:
    return b.storage(_item_id(c))


def op_storage_get(b: Backend, c: Call) -> Any:
    name = c.str_arg("file_name")
    if not name:
        raise ApiError("INVALID_ARGUMENT", "'file_name' is required.", key="missing_field")
    return b.storage(_item_id(c), name)


def op_storage_list_or_get(b: Backend, c: Call) -> Any:
    if "file_name" in c.query:
        return op_storage_get(b, c)
    return op_storage_list(b, c)


def _update_id(c: Call) -> str:
    sid = c.str_arg("update_session_id")
    if not sid:
        raise ApiError("INVALID_ARGUMENT", "'update_session_id' is required.", key="missing_field")
    return sid


def op_us_create(b: Backend, c: Call) -> Any:
    return b.create_update_session(c.who, c.spec("create_spec"), c.client_token())


def op_us_list(b: Backend, c: Call) -> Any:
    return b.list_update_sessions(c.who, c.str_arg("library_item_id"))


def op_us_get(b: Backend, c: Call) -> Any:
    return b.get_update_session(c.who, _update_id(c))


def op_us_update(b: Backend, c: Call) -> Any:
    b.update_update_session(c.who, _update_id(c), c.spec("update_spec"))


def op_us_keep_alive(b: Backend, c: Call) -> Any:
    b.keep_alive_update(c.who, _update_id(c), c.arg("client_progress"))


def op_us_complete(b: Backend, c: Call) -> Any:
    b.complete_update_session(c.who, _update_id(c))


def op_us_cancel(b: Backend, c: Call) -> Any:
    b.cancel_update_session(c.who, _update_id(c))


def op_us_fail(b: Backend, c: Call) -> Any:
    b.fail_update_session(c.who, _update_id(c), c.arg("client_error_message"))


def op_us_delete(b: Backend, c: Call) -> Any:
    b.delete_update_session(c.who, _update_id(c))


def op_usf_add(b: Backend, c: Call) -> Any:
    return b.add_file(c.who, _update_id(c), c.spec("file_spec"), c.base)


def op_usf_get(b: Backend, c: Call) -> Any:
    return b.get_upload_file(c.who, _update_id(c), c.str_arg("file_name"), c.base)


def op_usf_list(b: Backend, c: Call) -> Any:
    return b.list_upload_files(c.who, _update_id(c), c.base)


def op_usf_remove(b: Backend, c: Call) -> Any:
    b.remove_file(c.who, _update_id(c), c.str_arg("file_name"))


def op_usf_validate(b: Backend, c: Call) -> Any:
    return b.validate_files(c.who, _update_id(c))


def _download_id(c: Call) -> str:
    sid = c.str_arg("download_session_id")
    if not sid:
        raise ApiError(
            "INVALID_ARGUMENT", "'download_session_id' is required.", key="missing_field"
        )
    return sid


def op_ds_create(b: Backend, c: Call) -> Any:
    return b.create_download_session(c.who, c.spec("create_spec"), c.client_token())


def op_ds_list(b: Backend, c: Call) -> Any:
    return b.list_download_sessions(c.who, c.str_arg("library_item_id"))


def op_ds_get(b: Backend, c: Call) -> Any:
    return b.get_download_session(c.who, _download_id(c))


def op_ds_keep_alive(b: Backend, c: Call) -> Any:
    b.keep_alive_download(c.who, _download_id(c), c.arg("progress"))


def op_ds_cancel(b: Backend, c: Call) -> Any:
    b.cancel_download_session(c.who, _download_id(c))


def op_ds_fail(b: Backend, c: Call) -> Any:
    b.fail_download_session(c.who, _download_id(c), c.arg("client_error_message"))


def op_ds_delete(b: Backend, c: Call) -> Any:
    b.delete_download_session(c.who, _download_id(c))


def op_dsf_list(b: Backend, c: Call) -> Any:
    return b.list_download_files(c.who, _download_id(c), c.base)


def op_dsf_get(b: Backend, c: Call) -> Any:
    return b.get_download_file(c.who, _download_id(c), c.str_arg("file_name"), c.base)


def op_dsf_list_or_get(b: Backend, c: Call) -> Any:
    if "file_name" in c.query:
        return op_dsf_get(b, c)
    return op_dsf_list(b, c)


def op_dsf_prepare(b: Backend, c: Call) -> Any:
    return b.prepare_file(
        c.who, _download_id(c), c.str_arg("file_name"), c.arg("endpoint_type"), c.base
    )


# -- route tables ------------------------------------------------------------------------------

_PARAM = re.compile(r"\{(\w+)\}")


def _compile(template: str, dialect: str) -> re.Pattern[str]:
    # /rest ids carry an "id:" prefix in paths; accept bare ids too.
    segment = r"(?:id:)?(?P<\1>[^/]+)" if dialect == "rest" else r"(?P<\1>[^/]+)"
    return re.compile(_PARAM.sub(segment, template))


def _table(dialect: str, rows: list[tuple[Any, ...]]) -> list[Route]:
    routes = []
    for row in rows:
        method, template, action, op, *flags = row
        routes.append(
            Route(
                method,
                _compile(template, dialect),
                action,
                op,
                created="created" in flags,
                auth="public" not in flags,
            )
        )
    return routes


_US = "/api/content/library/item/update-session"
_DS = "/api/content/library/item/download-session"

API_ROUTES = _table(
    "api",
    [
        ("POST", "/api/session", None, op_login, "created", "public"),
        ("GET", "/api/session", None, op_session_get),
        ("DELETE", "/api/session", None, op_logout),
        ("GET", "/api/vcenter/datastore", None, op_datastore_list),
        ("GET", "/api/vcenter/datastore/{datastore}", None, op_datastore_get),
        ("GET", _US, None, op_us_list),
        ("POST", _US, None, op_us_create, "created"),
        ("GET", _US + "/{update_session_id}/file", None, op_usf_list),
        ("POST", _US + "/{update_session_id}/file", None, op_usf_add),
        ("POST", _US + "/{update_session_id}/file", "validate", op_usf_validate),
        ("GET", _US + "/{update_session_id}/file/{file_name}", None, op_usf_get),
        ("DELETE", _US + "/{update_session_id}/file/{file_name}", None, op_usf_remove),
        ("GET", _US + "/{update_session_id}", None, op_us_get),
        ("PATCH", _US + "/{update_session_id}", None, op_us_update),
        ("DELETE", _US + "/{update_session_id}", None, op_us_delete),
        ("POST", _US + "/{update_session_id}", "keep-alive", op_us_keep_alive),
        ("POST", _US + "/{update_session_id}", "complete", op_us_complete),
        ("POST", _US + "/{update_session_id}", "cancel", op_us_cancel),
        ("POST", _US + "/{update_session_id}", "fail", op_us_fail),
        ("GET", _DS, None, op_ds_list),
        ("POST", _DS, None, op_ds_create, "created"),
        ("GET", _DS + "/{download_session_id}/file", None, op_dsf_list_or_get),
        ("POST", _DS + "/{download_session_id}/file", "prepare", op_dsf_prepare),
        ("GET", _DS + "/{download_session_id}", None, op_ds_get),
        ("DELETE", _DS + "/{download_session_id}", None, op_ds_delete),
        ("POST", _DS + "/{download_session_id}", "keep-alive", op_ds_keep_alive),
        ("POST", _DS + "/{download_session_id}", "cancel", op_ds_cancel),
        ("POST", _DS + "/{download_session_id}", "fail", op_ds_fail),
        ("GET", "/api/content/library/item", None, op_item_list),
        ("POST", "/api/content/library/item", "find", op_item_find),
        ("POST", "/api/content/library/item", None, op_item_create, "created"),
        ("GET", "/api/content/library/item/{library_item_id}/file", None, op_item_file_list_or_get),
        (
            "GET",
            "/api/content/library/item/{library_item_id}/storage",
            None,
            op_storage_list_or_get,
        ),
        ("GET", "/api/content/library/item/{library_item_id}", None, op_item_get),
        ("PATCH", "/api/content/library/item/{library_item_id}", None, op_item_update),
        ("DELETE", "/api/content/library/item/{library_item_id}", None, op_item_delete),
        ("GET", "/api/content/library", None, op_library_list),
        ("POST", "/api/content/library", "find", op_library_find),
        ("GET", "/api/content/library/{library_id}", None, op_library_get),
        ("GET", "/api/content/local-library", None, op_library_list),
        ("POST", "/api/content/local-library", None, op_library_create, "created"),
        ("GET", "/api/content/local-library/{library_id}", None, op_library_get),
        ("DELETE", "/api/content/local-library/{library_id}", None, op_library_delete),
    ],
)

_C = "/rest/com/vmware/content"
_RUS = _C + "/library/item/update-session"
_RUSF = _C + "/library/item/updatesession/file"
_RDS = _C + "/library/item/download-session"
_RDSF = _C + "/library/item/downloadsession/file"

REST_ROUTES = _table(
    "rest",
    [
        ("POST", "/rest/com/vmware/cis/session", None, op_login, "public"),
        ("POST", "/rest/com/vmware/cis/session", "get", op_session_get),
        ("GET", "/rest/com/vmware/cis/session", None, op_session_get),
        ("DELETE", "/rest/com/vmware/cis/session", None, op_logout),
        ("GET", "/rest/vcenter/datastore", None, op_datastore_list),
        ("GET", "/rest/vcenter/datastore/{datastore}", None, op_datastore_get),
        ("GET", _RUS, None, op_us_list),
        ("POST", _RUS, None, op_us_create),
        ("GET", _RUS + "/{update_session_id}", None, op_us_get),
        ("PATCH", _RUS + "/{update_session_id}", None, op_us_update),
        ("DELETE", _RUS + "/{update_session_id}", None, op_us_delete),
        ("POST", _RUS + "/{update_session_id}", "keep-alive", op_us_keep_alive),
        ("POST", _RUS + "/{update_session_id}", "complete", op_us_complete),
        ("POST", _RUS + "/{update_session_id}", "cancel", op_us_cancel),
        ("POST", _RUS + "/{update_session_id}", "fail", op_us_fail),
        ("GET", _RUSF, None, op_usf_list),
        ("POST", _RUSF + "/{update_session_id}", "add", op_usf_add),
        ("POST", _RUSF + "/{update_session_id}", "get", op_usf_get),
        ("POST", _RUSF + "/{update_session_id}", "remove", op_usf_remove),
        ("POST", _RUSF + "/{update_session_id}", "validate", op_usf_validate),
        ("GET", _RDS, None, op_ds_list),
        ("POST", _RDS, None, op_ds_create),
        ("GET", _RDS + "/{download_session_id}", None, op_ds_get),
        ("DELETE", _RDS + "/{download_session_id}", None, op_ds_delete),
        ("POST", _RDS + "/{download_session_id}", "keep-alive", op_ds_keep_alive),
        ("POST", _RDS + "/{download_session_id}", "cancel", op_ds_cancel),
        ("POST", _RDS + "/{download_session_id}", "fail", op_ds_fail),
        ("GET", _RDSF, None, op_dsf_list),
        ("POST", _RDSF + "/{download_session_id}", "prepare", op_dsf_prepare),
        ("POST", _RDSF + "/{download_session_id}", "get", op_dsf_get),
        ("GET", _C + "/library/item/file", None, op_item_file_list),
        ("POST", _C + "/library/item/file/{library_item_id}", "get", op_item_file_get),
        ("GET", _C + "/library/item/storage", None, op_storage_list),
        ("POST", _C + "/library/item/storage/{library_item_id}", "get", op_storage_get),
        ("GET", _C + "/library/item", None, op_item_list),
        ("POST", _C + "/library/item", "find", op_item_find),
        ("POST", _C + "/library/item", None, op_item_create),
        ("GET", _C + "/library/item/{library_item_id}", None, op_item_get),
        ("PATCH", _C + "/library/item/{library_item_id}", None, op_item_update),
        ("DELETE", _C + "/library/item/{library_item_id}", None, op_item_delete),
        ("GET", _C + "/library", None, op_library_list),
        ("POST", _C + "/library", "find", op_library_find),
        ("GET", _C + "/library/{library_id}", None, op_library_get),
        ("GET", _C + "/local-library", None, op_library_list),
        ("POST", _C + "/local-library", None, op_library_create),
        ("GET", _C + "/local-library/{library_id}", None, op_library_get),
        ("DELETE", _C + "/local-library/{library_id}", None, op_library_delete),
    ],
)

ROUTES = {"api": API_ROUTES, "rest": REST_ROUTES}


def resolve(
    dialect: str, method: str, path: str, action: str | None
) -> tuple[Route, dict[str, str]]:
    """The route for a request; path parameters are returned percent-decoded."""
    for route in ROUTES[dialect]:
        m = route.pattern.fullmatch(path)
        if m is None or route.method != method or route.action != action:
            continue
        return route, {k: unquote(v) for k, v in m.groupdict().items()}
    shown = (
        path if action is None else f"{path}?{'action' if dialect == 'api' else '~action'}={action}"
    )
    raise operation_not_found(method, shown)
