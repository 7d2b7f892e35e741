"""Service lifecycle: durability across restarts, TLS, the Python interface and the CLI."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from cl_desktop.simulator import ContentLibraryService, SimulatorConfig
from cl_desktop.simulator.__main__ import main
from cl_desktop.simulator.errors import ACCOUNT_LOCKED_ID, PASSWORD_EXPIRED_ID
from tests.support.accounts import USERS
from tests.support.simclient import RawClient, new_http
from tests.support.waiting import poll_until

ROOT = Path(__file__).resolve().parents[2]


def test_restart_keeps_libraries_items_and_content(tmp_path: Path) -> None:
    cfg = SimulatorConfig(data_dir=tmp_path / "data", users=dict(USERS))
    data = os.urandom(50_000)
    with ContentLibraryService(cfg) as svc:
        default_id = svc.default_library_id
        api = RawClient(svc, "api")
        lib_id = api.ok(
            "POST",
            "/api/content/local-library",
            json={
                "name": "kept",
                "storage_backings": [{"type": "DATASTORE", "datastore_id": "datastore-1"}],
            },
        )
        item_id = api.create_item("kept-item", library_id=lib_id)
        api.upload(item_id, {"disk.bin": data})
        before_item = api.item(item_id)
        before_files = api.item_files(item_id)
        # An unfinished upload: its partial content must not survive a restart.
        sid = api.create_update_session(item_id)
        info = api.add_file(sid, "partial.bin")
        api.put(info["upload_endpoint"]["uri"], b"partial")

    with ContentLibraryService(cfg) as svc:
        api = RawClient(svc, "api")
        assert svc.default_library_id == default_id
        assert sorted(api.ok("GET", "/api/content/library")) == sorted([default_id, lib_id])
        assert api.ok("GET", "/api/content/library/item", params={"library_id": lib_id}) == [
            item_id
        ]
        assert api.item(item_id) == before_item
        assert api.item_files(item_id) == before_files
        assert list((svc.data_dir / "tmp").iterdir()) == []
        _, uri = api.prepared_uri(item_id, "disk.bin")
        assert new_http().get(uri).content == data
        # Sessions are leases of the old process: gone.
        assert api.call("GET", api.us_path(sid)).status_code == 404
        assert api.create_update_session(item_id)


def test_deleting_a_library_removes_its_items_and_content(raw_api: RawClient) -> None:
    lib_id = raw_api.ok(
        "POST",
        "/api/content/local-library",
        json={
            "name": "doomed",
            "storage_backings": [{"type": "DATASTORE", "datastore_id": "datastore-1"}],
        },
    )
    item_id = raw_api.create_item("doomed-item", library_id=lib_id)
    raw_api.upload(item_id, {"a.bin": b"abc"})
    content_dir = raw_api.service.data_dir / "datastore-1" / f"contentlib-{lib_id}"
    assert content_dir.exists()
    assert raw_api.call("DELETE", f"/api/content/local-library/{lib_id}").status_code == 204
    assert raw_api.call("GET", f"/api/content/library/item/{item_id}").status_code == 404
    assert not content_dir.exists()


def test_python_interface(tmp_path: Path) -> None:
    cfg = SimulatorConfig(data_dir=tmp_path / "d")
    assert cfg.users == {"administrator@vsphere.local": "demo"}
    assert cfg.dialects == frozenset({"api", "rest"}) and cfg.control_api is False
    assert cfg.session_timeout == 300.0 and cfg.login_timeout == 1800.0
    svc = ContentLibraryService(cfg)
    with pytest.raises(RuntimeError):
        _ = svc.base_url
    with svc:
        assert svc.base_url.startswith("http://127.0.0.1:")
        assert svc.base_url == f"http://127.0.0.1:{svc.port}"
        assert svc.datastore_id == "datastore-1"
        r = new_http().post(
            svc.base_url + "/api/session", auth=("administrator@vsphere.local", "demo")
        )
        assert r.status_code == 201
    with pytest.raises(ValueError):
        SimulatorConfig(dialects=frozenset({"soap"})).validate()


def test_without_data_dir_uses_a_temporary_one() -> None:
    with ContentLibraryService(SimulatorConfig(users=dict(USERS))) as svc:
        data_dir = svc.data_dir
        assert (data_dir / "catalogue.sqlite").exists()
    assert not data_dir.exists()


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_round_trip(
    sim_factory: Callable[..., ContentLibraryService], tls_pair: tuple[Path, Path]
) -> None:
    cert, key = tls_pair
    svc = sim_factory(tls_cert=cert, tls_key=key)
    assert svc.base_url.startswith("https://127.0.0.1:")
    api = RawClient(svc, "api", verify=str(cert))
    http = api.http
    data = os.urandom(3 << 20)
    item_id = api.create_item("tls")
    sid = api.create_update_session(item_id)
    info = api.add_file(sid, "a.bin", size=len(data))
    assert info["upload_endpoint"]["uri"].startswith("https://")
    assert http.put(info["upload_endpoint"]["uri"], data=data).status_code == 200
    assert api.us_action(sid, "complete").status_code == 204
    _, uri = api.prepared_uri(item_id, "a.bin")
    assert http.get(uri).content == data
    assert http.get(uri, headers={"Range": "bytes=5-9"}).content == data[5:10]


def test_a_tls_handshake_that_never_comes_is_cut(
    sim_factory: Callable[..., ContentLibraryService], tls_pair: tuple[Path, Path]
) -> None:
    cert, key = tls_pair
    svc = sim_factory(tls_cert=cert, tls_key=key, header_timeout=1.0)
    with socket.create_connection(("127.0.0.1", svc.port), timeout=30) as sock:
        poll_until(lambda: svc.connection_count == 1, timeout=30)
        assert sock.recv(1) == b""  # closed by the header deadline, not after 30 s
    poll_until(lambda: svc.connection_count == 0, timeout=30)  # and forgotten
    assert RawClient(svc, "api", verify=str(cert)).call("GET", "/api/content/library").ok


# -- CLI -------------------------------------------------------------------------------------


def test_cli_round_trip_and_sigterm(
    sim_cli: Callable[..., tuple[subprocess.Popen[str], str]], tmp_path: Path
) -> None:
    proc, base = sim_cli(
        "--data-dir", str(tmp_path / "cli"), "--user", "admin:secret", "--control-api"
    )
    assert base.startswith("http://127.0.0.1:")
    http = new_http()
    token = http.post(base + "/api/session", auth=("admin", "secret")).json()
    http.headers["vmware-api-session-id"] = token
    lib_id = http.get(base + "/api/content/library").json()[0]
    item_id = http.post(
        base + "/api/content/library/item", json={"library_id": lib_id, "name": "cli"}
    ).json()
    sid = http.post(
        base + "/api/content/library/item/update-session", json={"library_item_id": item_id}
    ).json()
    info = http.post(
        base + f"/api/content/library/item/update-session/{sid}/file",
        json={"name": "a.txt", "source_type": "PUSH", "size": 5},
    ).json()
    assert new_http().put(info["upload_endpoint"]["uri"], data=b"hello").status_code == 200
    r = http.post(
        base + f"/api/content/library/item/update-session/{sid}", params={"action": "complete"}
    )
    assert r.status_code == 204
    assert http.get(base + f"/api/content/library/item/{item_id}").json()["size"] == 5
    # Fault injection over HTTP works against the subprocess.
    assert http.post(base + "/_sim/faults", json={"fail_next": 1}).status_code == 200
    assert http.get(base + "/api/content/library").status_code == 503

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert proc.stdout is not None and proc.stdout.read() == ""  # exactly one line
    assert proc.stderr is not None and "secret" not in proc.stderr.read()
    assert (tmp_path / "cli" / "catalogue.sqlite").exists()


def test_cli_rest_only_without_control_api(
    sim_cli: Callable[..., tuple[subprocess.Popen[str], str]],
) -> None:
    proc, base = sim_cli("--dialect", "rest", "--readonly-user", "ro:pw")  # control API: off
    http = new_http()
    assert (
        http.post(base + "/api/session", auth=("administrator@vsphere.local", "demo")).status_code
        == 404
    )
    r = http.post(base + "/rest/com/vmware/cis/session", auth=("ro", "pw"))
    assert r.status_code == 200
    token = {"vmware-api-session-id": r.json()["value"]}
    assert http.get(base + "/_sim/state", headers=token).status_code == 404  # off by default
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0


def test_cli_rejects_bad_user_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--user", "no-colon"])
    assert exc.value.code == 2
    assert "NAME:PASSWORD" in capsys.readouterr().err


def test_discarded_content_leaves_the_request_path_and_the_disk(
    sim_factory: Callable[..., ContentLibraryService], tmp_path: Path
) -> None:
    """Replaced versions go to the trash at once and are deleted in the background; what a
    crash left in the trash is deleted on the next start."""
    from tests.support.waiting import wait_until

    data_dir = tmp_path / "data"
    (data_dir / "trash").mkdir(parents=True)
    (data_dir / "trash" / "left-by-a-crash").write_bytes(b"x" * 1000)
    svc = sim_factory(data_dir=data_dir)
    wait_until(lambda: not any((data_dir / "trash").iterdir()), 10, "an empty trash")
    api = RawClient(svc, "api")
    item_id = api.create_item("versions")
    api.upload(item_id, {"a.bin": b"first"})
    first = sorted(p.name for p in (data_dir / "datastore-1").rglob("a.bin_*"))
    api.upload(item_id, {"a.bin": b"second"})
    second = sorted(p.name for p in (data_dir / "datastore-1").rglob("a.bin_*"))
    assert first == ["a.bin_1"] and second == ["a.bin_2"]  # the old version left at once
    wait_until(lambda: not any((data_dir / "trash").iterdir()), 10, "an empty trash")


def test_cli_refuses_locked_and_expired_password_accounts_in_both_dialects(
    sim_cli: Callable[..., tuple[subprocess.Popen[str], str]], tmp_path: Path
) -> None:
    _, base = sim_cli(
        "--data-dir", str(tmp_path / "cli"), "--user", "admin:secret", "--user", "lo:pw",
        "--user", "ex:pw", "--locked-user", "lo", "--expired-password-user", "ex",
    )  # fmt: skip
    paths = {"api": "/api/session", "rest": "/rest/com/vmware/cis/session"}
    for dialect, path in paths.items():
        for user, password, msg_id in [
            ("lo", "pw", ACCOUNT_LOCKED_ID),
            ("lo", "wrong", ACCOUNT_LOCKED_ID),  # locked whatever the password
            ("ex", "pw", PASSWORD_EXPIRED_ID),
            ("ex", "wrong", "com.vmware.vapi.endpoint.method.authentication.failed"),
        ]:
            r = new_http().post(base + path, auth=(user, password))
            assert r.status_code == 401, (dialect, user, r.text)
            body = r.json() if dialect == "api" else r.json()["value"]
            assert body["error_type"] == "UNAUTHENTICATED"
            assert [m["id"] for m in body["messages"]] == [msg_id], (dialect, user, password)
        assert new_http().post(base + path, auth=("admin", "secret")).ok
    with pytest.raises(ValueError, match="no such user"):
        SimulatorConfig(users={"a": "b"}, locked_users={"typo"}).validate()
