"""Raw-HTTP helpers for the simulator tests: a logged-in session of one dialect and its flows.

Clients speak raw HTTP through ``requests`` (``trust_env=False`` so no proxy
settings interfere).
"""

from __future__ import annotations

from typing import Any

import requests

from cl_desktop.simulator import ContentLibraryService
from tests.support.accounts import READONLY_USERS, USERS
from tests.support.waiting import poll_until


def new_http(verify: str | bool = True) -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    http.verify = verify
    return http


class RawClient:
    """A logged-in session of one dialect, with helpers for the common flows.

    ``call`` returns the raw response; the helpers assert success and unwrap.
    """

    def __init__(
        self,
        service: ContentLibraryService,
        dialect: str,
        user: str = "admin",
        verify: str | bool = True,
        password: str | None = None,
    ) -> None:
        self.service = service
        self.base = service.base_url
        self.dialect = dialect
        self.verify = verify
        self.http = new_http(verify)
        if password is None:
            password = {**USERS, **READONLY_USERS}[user]
        path = "/api/session" if dialect == "api" else "/rest/com/vmware/cis/session"
        r = self.http.post(self.base + path, auth=(user, password))
        assert r.status_code == (201 if dialect == "api" else 200), r.text
        self.token: str = r.json() if dialect == "api" else r.json()["value"]
        self.http.headers["vmware-api-session-id"] = self.token

    # -- raw -------------------------------------------------------------------------------

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.http.request(method, self.base + path, **kw)

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        """Call and unwrap a successful answer (None for void)."""
        r = self.call(method, path, **kw)
        assert r.status_code in (200, 201, 204), f"{method} {path}: {r.status_code} {r.text}"
        if not r.content:
            return None
        body = r.json()
        return body["value"] if self.dialect == "rest" else body

    def _id(self, ident: str) -> str:
        return ident if self.dialect == "api" else f"id:{ident}"

    # -- items -----------------------------------------------------------------------------

    def create_item(self, name: str, library_id: str | None = None, item_type: str = "iso") -> str:
        spec = {
            "library_id": library_id or self.service.default_library_id,
            "name": name,
            "type": item_type,
        }
        if self.dialect == "api":
            return str(self.ok("POST", "/api/content/library/item", json=spec))
        return str(
            self.ok("POST", "/rest/com/vmware/content/library/item", json={"create_spec": spec})
        )

    def item(self, item_id: str) -> dict[str, Any]:
        if self.dialect == "api":
            return dict(self.ok("GET", f"/api/content/library/item/{item_id}"))
        return dict(self.ok("GET", f"/rest/com/vmware/content/library/item/id:{item_id}"))

    def item_files(self, item_id: str) -> list[dict[str, Any]]:
        if self.dialect == "api":
            return list(self.ok("GET", f"/api/content/library/item/{item_id}/file"))
        return list(
            self.ok(
                "GET",
                "/rest/com/vmware/content/library/item/file",
                params={"library_item_id": item_id},
            )
        )

    # -- update sessions -------------------------------------------------------------------

    def us_path(self, sid: str | None = None) -> str:
        root = (
            "/api/content/library/item/update-session"
            if self.dialect == "api"
            else "/rest/com/vmware/content/library/item/update-session"
        )
        return root if sid is None else f"{root}/{self._id(sid)}"

    def action(self, name: str) -> dict[str, str]:
        return {"action" if self.dialect == "api" else "~action": name}

    def create_update_session(self, item_id: str) -> str:
        spec = {"library_item_id": item_id}
        body = spec if self.dialect == "api" else {"create_spec": spec}
        return str(self.ok("POST", self.us_path(), json=body))

    def update_session(self, sid: str) -> dict[str, Any]:
        return dict(self.ok("GET", self.us_path(sid)))

    def us_action(self, sid: str, action: str, body: Any = None) -> requests.Response:
        return self.call("POST", self.us_path(sid), params=self.action(action), json=body)

    def add_file(self, sid: str, name: str, **spec: Any) -> dict[str, Any]:
        spec = {"name": name, "source_type": "PUSH", **spec}
        if self.dialect == "api":
            return dict(self.ok("POST", self.us_path(sid) + "/file", json=spec))
        return dict(
            self.ok(
                "POST",
                f"/rest/com/vmware/content/library/item/updatesession/file/id:{sid}",
                params={"~action": "add"},
                json={"file_spec": spec},
            )
        )

    def upload_file(self, sid: str, name: str) -> dict[str, Any]:
        if self.dialect == "api":
            return dict(self.ok("GET", self.us_path(sid) + f"/file/{name}"))
        return dict(
            self.ok(
                "POST",
                f"/rest/com/vmware/content/library/item/updatesession/file/id:{sid}",
                params={"~action": "get"},
                json={"file_name": name},
            )
        )

    def session_files(self, sid: str) -> list[dict[str, Any]]:
        if self.dialect == "api":
            return list(self.ok("GET", self.us_path(sid) + "/file"))
        return list(
            self.ok(
                "GET",
                "/rest/com/vmware/content/library/item/updatesession/file",
                params={"update_session_id": sid},
            )
        )

    def validate(self, sid: str) -> dict[str, Any]:
        if self.dialect == "api":
            return dict(self.ok("POST", self.us_path(sid) + "/file", params={"action": "validate"}))
        return dict(
            self.ok(
                "POST",
                f"/rest/com/vmware/content/library/item/updatesession/file/id:{sid}",
                params={"~action": "validate"},
            )
        )

    def put(self, uri: str, data: bytes) -> requests.Response:
        # A fresh connection-less call: data URIs need no login header.
        return new_http(self.verify).put(uri, data=data)

    def upload(self, item_id: str, files: dict[str, bytes], complete: bool = True) -> str:
        """A whole update session: add each file, PUT it, complete (unless told not to)."""
        sid = self.create_update_session(item_id)
        for name, data in files.items():
            info = self.add_file(sid, name, size=len(data))
            r = self.put(info["upload_endpoint"]["uri"], data)
            assert r.status_code == 200, r.text
        if complete:
            r = self.us_action(sid, "complete")
            assert r.status_code in (200, 204), r.text
        return sid

    # -- download sessions -----------------------------------------------------------------

    def ds_path(self, did: str | None = None) -> str:
        root = (
            "/api/content/library/item/download-session"
            if self.dialect == "api"
            else "/rest/com/vmware/content/library/item/download-session"
        )
        return root if did is None else f"{root}/{self._id(did)}"

    def create_download_session(self, item_id: str) -> str:
        spec = {"library_item_id": item_id}
        body = spec if self.dialect == "api" else {"create_spec": spec}
        return str(self.ok("POST", self.ds_path(), json=body))

    def prepare(self, did: str, name: str) -> dict[str, Any]:
        body = {"file_name": name, "endpoint_type": "HTTPS"}
        if self.dialect == "api":
            return dict(
                self.ok(
                    "POST", self.ds_path(did) + "/file", params={"action": "prepare"}, json=body
                )
            )
        return dict(
            self.ok(
                "POST",
                f"/rest/com/vmware/content/library/item/downloadsession/file/id:{did}",
                params={"~action": "prepare"},
                json=body,
            )
        )

    def download_file(self, did: str, name: str) -> dict[str, Any]:
        if self.dialect == "api":
            return dict(self.ok("GET", self.ds_path(did) + "/file", params={"file_name": name}))
        return dict(
            self.ok(
                "POST",
                f"/rest/com/vmware/content/library/item/downloadsession/file/id:{did}",
                params={"~action": "get"},
                json={"file_name": name},
            )
        )

    def prepared_uri(self, item_id: str, name: str) -> tuple[str, str]:
        """Create a download session, prepare ``name`` and wait: (session id, URI)."""
        did = self.create_download_session(item_id)
        self.prepare(did, name)
        info = poll_until(
            lambda: (f := self.download_file(did, name))["status"] == "PREPARED" and f
        )
        return did, str(info["download_endpoint"]["uri"])

    def sim_state(self) -> dict[str, Any]:
        r = self.call("GET", "/_sim/state")
        assert r.status_code == 200, r.text
        return dict(r.json())


def error_type(r: requests.Response, dialect: str = "api") -> str:
    """The vAPI error type of an error answer, checking the dialect's shape on the way."""
    body = r.json()
    if dialect == "rest":
        assert body["type"] == "com.vmware.vapi.std.errors." + body["value"]["error_type"].lower()
        body = body["value"]
    message = body["messages"][0]
    assert message["id"] and message["default_message"], body
    return str(body["error_type"])


def message(r: requests.Response) -> str:
    body = r.json()
    body = body.get("value", body)
    return str(body["messages"][0]["default_message"])
