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


def op_login(backend: Backend, call: Call) -> Any:
    user, password = _basic_auth(call)
    token = backend.login(user, password)
    if (
        call.dialect == "rest"
        and str(call.headers.get("vmware-use-header-authn", "")).lower() != "true"
    ):
        call.response_headers.append(
            ("Set-Cookie", f"vmware-api-session-id={token}; Path=/rest; HttpOnly")
        )
    return token


def op_session_get(backend: Backend, call: Call) -> Any:
    return backend.session_info(call.token)


def op_logout(backend: Backend, call: Call) -> Any:
    backend.logout(call.token)


def op_datastore_list(backend: Backend, call: Call) -> Any:
    return backend.datastores()


def op_datastore_get(backend: Backend, call: Call) -> Any:
    return backend.datastore(call.params["datastore"])


def op_library_list(backend: Backend, call: Call) -> Any:
    return backend.list_libraries()


def op_library_get(backend: Backend, call: Call) -> Any:
    return backend.get_library(call.params["library_id"])


def op_library_find(backend: Backend, call: Call) -> Any:
    return backend.find_libraries(call.spec("spec"))


def op_library_create(backend: Backend, call: Call) -> Any:
    return backend.create_library(call.who, call.spec("create_spec"), call.client_token())


def op_library_update(backend: Backend, call: Call) -> Any:
    backend.update_library(call.who, call.params["library_id"], call.spec("update_spec"))


def op_library_delete(backend: Backend, call: Call) -> Any:
    backend.delete_library(call.who, call.params["library_id"])


def op_item_list(backend: Backend, call: Call) -> Any:
    return backend.list_items(call.str_arg("library_id"))


def op_item_get(backend: Backend, call: Call) -> Any:
    return backend.get_item(call.params["library_item_id"])


def op_item_find(backend: Backend, call: Call) -> Any:
    return backend.find_items(call.spec("spec"))


def op_item_create(backend: Backend, call: Call) -> Any:
    return backend.create_item(call.who, call.spec("create_spec"), call.client_token())


def op_item_copy(backend: Backend, call: Call) -> Any:
    return backend.copy_item(
        call.who,
        call.params["library_item_id"],
        call.spec("destination_create_spec"),
        call.client_token(),
        "/api/content/library/item/{id}?action=copy"
        if call.dialect == "api"
        else "/rest/com/vmware/content/library/item/id:{id}?~action=copy",
    )


def op_item_update(backend: Backend, call: Call) -> Any:
    backend.update_item(call.who, call.params["library_item_id"], call.spec("update_spec"))


def op_item_delete(backend: Backend, call: Call) -> Any:
    backend.delete_item(call.who, call.params["library_item_id"])


def _item_id(call: Call) -> str:
    item_id = call.str_arg("library_item_id")
    if not item_id:
        raise ApiError("INVALID_ARGUMENT", "'library_item_id' is required.", key="missing_field")
    return item_id


def op_item_file_list(backend: Backend, call: Call) -> Any:
    return backend.item_files(_item_id(call))


def op_item_file_get(backend: Backend, call: Call) -> Any:
    return backend.item_file(_item_id(call), call.str_arg("name"))


def op_item_file_list_or_get(backend: Backend, call: Call) -> Any:
    if "name" in call.query:
        return op_item_file_get(backend, call)
    return op_item_file_list(backend, call)


def op_storage_list(backend: Backend, call: Call) -> Any:
    return backend.storage(_item_id(call))


def op_storage_get(backend: Backend, call: Call) -> Any:
    name = call.str_arg("file_name")
    if not name:
        raise ApiError("INVALID_ARGUMENT", "'file_name' is required.", key="missing_field")
    return backend.storage(_item_id(call), name)


def op_storage_list_or_get(backend: Backend, call: Call) -> Any:
    if "file_name" in call.query:
        return op_storage_get(backend, call)
    return op_storage_list(backend, call)


def _update_id(call: Call) -> str:
    sid = call.str_arg("update_session_id")
    if not sid:
        raise ApiError("INVALID_ARGUMENT", "'update_session_id' is required.", key="missing_field")
    return sid


def op_update_session_create(backend: Backend, call: Call) -> Any:
    return backend.create_update_session(call.who, call.spec("create_spec"), call.client_token())


def op_update_session_list(backend: Backend, call: Call) -> Any:
    return backend.list_update_sessions(call.who, call.str_arg("library_item_id"))


def op_update_session_get(backend: Backend, call: Call) -> Any:
    return backend.get_update_session(call.who, _update_id(call))


def op_update_session_update(backend: Backend, call: Call) -> Any:
    backend.update_update_session(call.who, _update_id(call), call.spec("update_spec"))


def op_update_session_keep_alive(backend: Backend, call: Call) -> Any:
    backend.keep_alive_update(call.who, _update_id(call), call.arg("client_progress"))


def op_update_session_complete(backend: Backend, call: Call) -> Any:
    backend.complete_update_session(call.who, _update_id(call))


def op_update_session_cancel(backend: Backend, call: Call) -> Any:
    backend.cancel_update_session(call.who, _update_id(call))


def op_update_session_fail(backend: Backend, call: Call) -> Any:
    backend.fail_update_session(call.who, _update_id(call), call.arg("client_error_message"))


def op_update_session_delete(backend: Backend, call: Call) -> Any:
    backend.delete_update_session(call.who, _update_id(call))


def op_update_session_file_add(backend: Backend, call: Call) -> Any:
    return backend.add_file(call.who, _update_id(call), call.spec("file_spec"), call.base)


def op_update_session_file_get(backend: Backend, call: Call) -> Any:
    return backend.get_upload_file(call.who, _update_id(call), call.str_arg("file_name"), call.base)


def op_update_session_file_list(backend: Backend, call: Call) -> Any:
    return backend.list_upload_files(call.who, _update_id(call), call.base)


def op_update_session_file_remove(backend: Backend, call: Call) -> Any:
    backend.remove_file(call.who, _update_id(call), call.str_arg("file_name"))


def op_update_session_file_validate(backend: Backend, call: Call) -> Any:
    return backend.validate_files(call.who, _update_id(call))


def _download_id(call: Call) -> str:
    sid = call.str_arg("download_session_id")
    if not sid:
        raise ApiError(
            "INVALID_ARGUMENT", "'download_session_id' is required.", key="missing_field"
        )
    return sid


def op_download_session_create(backend: Backend, call: Call) -> Any:
    return backend.create_download_session(call.who, call.spec("create_spec"), call.client_token())


def op_download_session_list(backend: Backend, call: Call) -> Any:
    return backend.list_download_sessions(call.who, call.str_arg("library_item_id"))


def op_download_session_get(backend: Backend, call: Call) -> Any:
    return backend.get_download_session(call.who, _download_id(call))


def op_download_session_keep_alive(backend: Backend, call: Call) -> Any:
    backend.keep_alive_download(call.who, _download_id(call), call.arg("progress"))


def op_download_session_cancel(backend: Backend, call: Call) -> Any:
    backend.cancel_download_session(call.who, _download_id(call))


def op_download_session_fail(backend: Backend, call: Call) -> Any:
    backend.fail_download_session(call.who, _download_id(call), call.arg("client_error_message"))


def op_download_session_delete(backend: Backend, call: Call) -> Any:
    backend.delete_download_session(call.who, _download_id(call))


def op_download_session_file_list(backend: Backend, call: Call) -> Any:
    return backend.list_download_files(call.who, _download_id(call), call.base)


def op_download_session_file_get(backend: Backend, call: Call) -> Any:
    return backend.get_download_file(
        call.who, _download_id(call), call.str_arg("file_name"), call.base
    )


def op_download_session_file_list_or_get(backend: Backend, call: Call) -> Any:
    if "file_name" in call.query:
        return op_download_session_file_get(backend, call)
    return op_download_session_file_list(backend, call)


def op_download_session_file_prepare(backend: Backend, call: Call) -> Any:
    return backend.prepare_file(
        call.who,
        _download_id(call),
        call.str_arg("file_name"),
        call.arg("endpoint_type"),
        call.base,
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


_API_UPDATE_SESSION = "/api/content/library/item/update-session"
_API_DOWNLOAD_SESSION = "/api/content/library/item/download-session"

API_ROUTES = _table(
    "api",
    [
        ("POST", "/api/session", None, op_login, "created", "public"),
        ("GET", "/api/session", None, op_session_get),
        ("DELETE", "/api/session", None, op_logout),
        ("GET", "/api/vcenter/datastore", None, op_datastore_list),
        ("GET", "/api/vcenter/datastore/{datastore}", None, op_datastore_get),
        ("GET", _API_UPDATE_SESSION, None, op_update_session_list),
        ("POST", _API_UPDATE_SESSION, None, op_update_session_create, "created"),
        (
            "GET",
            _API_UPDATE_SESSION + "/{update_session_id}/file",
            None,
            op_update_session_file_list,
        ),
        (
            "POST",
            _API_UPDATE_SESSION + "/{update_session_id}/file",
            None,
            op_update_session_file_add,
        ),
        (
            "POST",
            _API_UPDATE_SESSION + "/{update_session_id}/file",
            "validate",
            op_update_session_file_validate,
        ),
        (
            "GET",
            _API_UPDATE_SESSION + "/{update_session_id}/file/{file_name}",
            None,
            op_update_session_file_get,
        ),
        (
            "DELETE",
            _API_UPDATE_SESSION + "/{update_session_id}/file/{file_name}",
            None,
            op_update_session_file_remove,
        ),
        ("GET", _API_UPDATE_SESSION + "/{update_session_id}", None, op_update_session_get),
        ("PATCH", _API_UPDATE_SESSION + "/{update_session_id}", None, op_update_session_update),
        ("DELETE", _API_UPDATE_SESSION + "/{update_session_id}", None, op_update_session_delete),
        (
            "POST",
            _API_UPDATE_SESSION + "/{update_session_id}",
            "keep-alive",
            op_update_session_keep_alive,
        ),
        (
            "POST",
            _API_UPDATE_SESSION + "/{update_session_id}",
            "complete",
            op_update_session_complete,
        ),
        ("POST", _API_UPDATE_SESSION + "/{update_session_id}", "cancel", op_update_session_cancel),
        ("POST", _API_UPDATE_SESSION + "/{update_session_id}", "fail", op_update_session_fail),
        ("GET", _API_DOWNLOAD_SESSION, None, op_download_session_list),
        ("POST", _API_DOWNLOAD_SESSION, None, op_download_session_create, "created"),
        (
            "GET",
            _API_DOWNLOAD_SESSION + "/{download_session_id}/file",
            None,
            op_download_session_file_list_or_get,
        ),
        (
            "POST",
            _API_DOWNLOAD_SESSION + "/{download_session_id}/file",
            "prepare",
            op_download_session_file_prepare,
        ),
        ("GET", _API_DOWNLOAD_SESSION + "/{download_session_id}", None, op_download_session_get),
        (
            "DELETE",
            _API_DOWNLOAD_SESSION + "/{download_session_id}",
            None,
            op_download_session_delete,
        ),
        (
            "POST",
            _API_DOWNLOAD_SESSION + "/{download_session_id}",
            "keep-alive",
            op_download_session_keep_alive,
        ),
        (
            "POST",
            _API_DOWNLOAD_SESSION + "/{download_session_id}",
            "cancel",
            op_download_session_cancel,
        ),
        (
            "POST",
            _API_DOWNLOAD_SESSION + "/{download_session_id}",
            "fail",
            op_download_session_fail,
        ),
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
        ("POST", "/api/content/library/item/{library_item_id}", "copy", op_item_copy, "created"),
        ("PATCH", "/api/content/library/item/{library_item_id}", None, op_item_update),
        ("DELETE", "/api/content/library/item/{library_item_id}", None, op_item_delete),
        ("GET", "/api/content/library", None, op_library_list),
        ("POST", "/api/content/library", "find", op_library_find),
        ("GET", "/api/content/library/{library_id}", None, op_library_get),
        ("GET", "/api/content/local-library", None, op_library_list),
        ("POST", "/api/content/local-library", None, op_library_create, "created"),
        ("GET", "/api/content/local-library/{library_id}", None, op_library_get),
        ("PATCH", "/api/content/local-library/{library_id}", None, op_library_update),
        ("DELETE", "/api/content/local-library/{library_id}", None, op_library_delete),
    ],
)

_REST_CONTENT = "/rest/com/vmware/content"
_REST_UPDATE_SESSION = _REST_CONTENT + "/library/item/update-session"
_REST_UPDATE_FILE = _REST_CONTENT + "/library/item/updatesession/file"
_REST_DOWNLOAD_SESSION = _REST_CONTENT + "/library/item/download-session"
_REST_DOWNLOAD_FILE = _REST_CONTENT + "/library/item/downloadsession/file"

REST_ROUTES = _table(
    "rest",
    [
        ("POST", "/rest/com/vmware/cis/session", None, op_login, "public"),
        ("POST", "/rest/com/vmware/cis/session", "get", op_session_get),
        ("GET", "/rest/com/vmware/cis/session", None, op_session_get),
        ("DELETE", "/rest/com/vmware/cis/session", None, op_logout),
        ("GET", "/rest/vcenter/datastore", None, op_datastore_list),
        ("GET", "/rest/vcenter/datastore/{datastore}", None, op_datastore_get),
        ("GET", _REST_UPDATE_SESSION, None, op_update_session_list),
        ("POST", _REST_UPDATE_SESSION, None, op_update_session_create),
        ("GET", _REST_UPDATE_SESSION + "/{update_session_id}", None, op_update_session_get),
        ("PATCH", _REST_UPDATE_SESSION + "/{update_session_id}", None, op_update_session_update),
        ("DELETE", _REST_UPDATE_SESSION + "/{update_session_id}", None, op_update_session_delete),
        (
            "POST",
            _REST_UPDATE_SESSION + "/{update_session_id}",
            "keep-alive",
            op_update_session_keep_alive,
        ),
        (
            "POST",
            _REST_UPDATE_SESSION + "/{update_session_id}",
            "complete",
            op_update_session_complete,
        ),
        ("POST", _REST_UPDATE_SESSION + "/{update_session_id}", "cancel", op_update_session_cancel),
        ("POST", _REST_UPDATE_SESSION + "/{update_session_id}", "fail", op_update_session_fail),
        ("GET", _REST_UPDATE_FILE, None, op_update_session_file_list),
        ("POST", _REST_UPDATE_FILE + "/{update_session_id}", "add", op_update_session_file_add),
        ("POST", _REST_UPDATE_FILE + "/{update_session_id}", "get", op_update_session_file_get),
        (
            "POST",
            _REST_UPDATE_FILE + "/{update_session_id}",
            "remove",
            op_update_session_file_remove,
        ),
        (
            "POST",
            _REST_UPDATE_FILE + "/{update_session_id}",
            "validate",
            op_update_session_file_validate,
        ),
        ("GET", _REST_DOWNLOAD_SESSION, None, op_download_session_list),
        ("POST", _REST_DOWNLOAD_SESSION, None, op_download_session_create),
        ("GET", _REST_DOWNLOAD_SESSION + "/{download_session_id}", None, op_download_session_get),
        (
            "DELETE",
            _REST_DOWNLOAD_SESSION + "/{download_session_id}",
            None,
            op_download_session_delete,
        ),
        (
            "POST",
            _REST_DOWNLOAD_SESSION + "/{download_session_id}",
            "keep-alive",
            op_download_session_keep_alive,
        ),
        (
            "POST",
            _REST_DOWNLOAD_SESSION + "/{download_session_id}",
            "cancel",
            op_download_session_cancel,
        ),
        (
            "POST",
            _REST_DOWNLOAD_SESSION + "/{download_session_id}",
            "fail",
            op_download_session_fail,
        ),
        ("GET", _REST_DOWNLOAD_FILE, None, op_download_session_file_list),
        (
            "POST",
            _REST_DOWNLOAD_FILE + "/{download_session_id}",
            "prepare",
            op_download_session_file_prepare,
        ),
        (
            "POST",
            _REST_DOWNLOAD_FILE + "/{download_session_id}",
            "get",
            op_download_session_file_get,
        ),
        ("GET", _REST_CONTENT + "/library/item/file", None, op_item_file_list),
        ("POST", _REST_CONTENT + "/library/item/file/{library_item_id}", "get", op_item_file_get),
        ("GET", _REST_CONTENT + "/library/item/storage", None, op_storage_list),
        ("POST", _REST_CONTENT + "/library/item/storage/{library_item_id}", "get", op_storage_get),
        ("GET", _REST_CONTENT + "/library/item", None, op_item_list),
        ("POST", _REST_CONTENT + "/library/item", "find", op_item_find),
        ("POST", _REST_CONTENT + "/library/item", None, op_item_create),
        ("GET", _REST_CONTENT + "/library/item/{library_item_id}", None, op_item_get),
        ("POST", _REST_CONTENT + "/library/item/{library_item_id}", "copy", op_item_copy),
        ("PATCH", _REST_CONTENT + "/library/item/{library_item_id}", None, op_item_update),
        ("DELETE", _REST_CONTENT + "/library/item/{library_item_id}", None, op_item_delete),
        ("GET", _REST_CONTENT + "/library", None, op_library_list),
        ("POST", _REST_CONTENT + "/library", "find", op_library_find),
        ("GET", _REST_CONTENT + "/library/{library_id}", None, op_library_get),
        ("GET", _REST_CONTENT + "/local-library", None, op_library_list),
        ("POST", _REST_CONTENT + "/local-library", None, op_library_create),
        ("GET", _REST_CONTENT + "/local-library/{library_id}", None, op_library_get),
        ("PATCH", _REST_CONTENT + "/local-library/{library_id}", None, op_library_update),
        ("DELETE", _REST_CONTENT + "/local-library/{library_id}", None, op_library_delete),
    ],
)

ROUTES = {"api": API_ROUTES, "rest": REST_ROUTES}


def resolve(
    dialect: str, method: str, path: str, action: str | None
) -> tuple[Route, dict[str, str]]:
    """The route for a request; path parameters are returned percent-decoded."""
    for route in ROUTES[dialect]:
        match = route.pattern.fullmatch(path)
        if match is None or route.method != method or route.action != action:
            continue
        return route, {k: unquote(v) for k, v in match.groupdict().items()}
    shown = (
        path if action is None else f"{path}?{'action' if dialect == 'api' else '~action'}={action}"
    )
    raise operation_not_found(method, shown)
