"""cl-transfer as a user runs it: a subprocess against real servers, exit codes, crash recovery."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from cl_desktop.api import ContentLibraryClient, TlsSettings
from tests.support.api import active_sessions, client_for
from tests.support.cli import cli
from tests.support.files import make_file
from tests.support.servers import VcsimServer
from tests.support.uploads import total_received
from tests.support.waiting import wait_until


def test_upload_list_download_with_json(sim_service: Any, tmp_path: Path) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "setup script.ps1", 70_000)
    up = cli(url, "--queue-db", db, "--json", "upload", "Local library/scripts", str(source),
             "--create")  # fmt: skip
    assert up.returncode == 0, up.stderr
    (result,) = json.loads(up.stdout)
    assert result["state"] == "done" and result["verification"] == "verified"

    items = json.loads(cli(url, "--json", "items", "Local library").stdout)
    assert [i["name"] for i in items] == ["scripts"]
    files = json.loads(cli(url, "--json", "files", "Local library/scripts").stdout)
    assert files[0]["name"] == "setup script.ps1" and files[0]["checksum_info"]["checksum"]
    storage = cli(url, "storage", "Local library/scripts")
    assert storage.returncode == 0 and "ds:///" in storage.stdout

    dest = tmp_path / "out"
    down = cli(url, "--queue-db", db, "download", "Local library/scripts", str(dest))
    assert down.returncode == 0, down.stderr
    assert (dest / source.name).read_bytes() == source.read_bytes()
    history = cli(url, "--queue-db", db, "history", "--export", str(tmp_path / "h.json"),
                  "--format", "json")  # fmt: skip
    assert history.returncode == 0
    assert len(json.loads((tmp_path / "h.json").read_text())) == 2
    assert "no sessions" in cli(url, "sessions").stdout


def test_upload_a_folder_of_files_or_a_folder_holding_an_ova(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    from tests.support.ova import template_members, write_ova

    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    loose = tmp_path / "tools"
    loose.mkdir()
    files = [make_file(loose / "a.sh", 1000, 1), make_file(loose / "b.ps1", 2000, 2)]
    up = cli(url, "--queue-db", db, "upload", "Local library/tools", str(loose), "--create")
    assert up.returncode == 0, up.stderr
    appliance = tmp_path / "appliance"
    appliance.mkdir()
    disk = make_file(tmp_path / "d.vmdk", 5000, 3)
    write_ova(appliance / "app.ova", template_members("app", [disk]))
    up = cli(url, "--queue-db", db, "upload", "Local library/app", str(appliance), "--create")
    assert up.returncode == 0, up.stderr
    library = sim_service.default_library_id
    items = {i.name: i for i in sim_api_client.items.list_models(library)}
    assert (items["tools"].type, items["app"].type) == ("file", "ovf")
    stored = {f.name for f in sim_api_client.item_files.list(items["tools"].id or "")}
    assert stored == {f.name for f in files}
    stored = {f.name for f in sim_api_client.item_files.list(items["app"].id or "")}
    assert stored == {"app.ovf", "d.vmdk"}


def test_exit_codes(sim_service: Any, tmp_path: Path) -> None:
    url = sim_service.base_url
    assert cli(url, "libraries", password="wrong").returncode == 3
    missing = cli(url, "files", "Local library/nothing-here")
    assert missing.returncode == 4 and "nothing-here" in missing.stderr
    assert cli(url, "upload", "Local library/x", "/no/such/file").returncode == 4  # no --create
    (tmp_path / "empty").mkdir()
    failed = cli(url, "--queue-db", str(tmp_path / "q"), "upload", "Local library/x",
                 str(tmp_path / "empty"), "--create")  # fmt: skip
    assert failed.returncode == 7 and "empty is empty; there is nothing to upload" in failed.stderr
    fifo = tmp_path / "pipe.bin"
    os.mkfifo(fifo)
    failed = cli(url, "--queue-db", str(tmp_path / "q"), "upload", "Local library/x",
                 str(fifo), "--create")  # fmt: skip
    assert failed.returncode == 1 and "is not a regular file" in failed.stdout
    usage = subprocess.run([sys.executable, "-m", "cl_desktop.cli"],
                           capture_output=True, text=True)  # fmt: skip
    assert usage.returncode == 2
    assert "secret" not in failed.stdout + failed.stderr


def test_untrusted_certificate_is_exit_5_and_pinning_works(vcsim_server: VcsimServer) -> None:
    target = vcsim_server.target("vcsim")
    untrusted = cli(target.base_url, "libraries", user="user", password="pass")
    assert untrusted.returncode == 5, untrusted.stderr
    assert "Untrusted certificate" in untrusted.stderr
    from cl_desktop.api import fetch_peer_certificate

    pin = fetch_peer_certificate(target.base_url).sha256
    pinned = cli(target.base_url, "--pin-sha256", pin, "libraries", user="user", password="pass")
    assert pinned.returncode == 0, pinned.stderr
    wrong = cli(target.base_url, "--pin-sha256", "ab" * 32, "libraries", user="user",
                password="pass")  # fmt: skip
    assert wrong.returncode == 5 and "pinned fingerprint" in wrong.stderr


def test_cli_against_vcsim(vcsim_server: VcsimServer, tmp_path: Path) -> None:
    server_target = vcsim_server.target("vcsim")
    with client_for(server_target) as c:
        c.libraries.create_local("cli-lib", server_target.datastore_id or "")
    source = make_file(tmp_path / "a.iso", 100_000)
    args = ("--queue-db", str(tmp_path / "q"))
    up = cli(server_target.base_url, *args, "upload", "cli-lib/a", str(source), "--create",
             user="user", password="pass", ca_file=server_target.ca_file)  # fmt: skip
    assert up.returncode == 0, up.stderr + up.stdout
    assert "size only" in up.stdout  # vcsim keeps no checksums


def test_killed_mid_upload_finishes_after_restart(sim_service: Any, tmp_path: Path) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "crash.iso", 12_000_000, seed=7)
    sim_service.faults.throttle(1_000_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cl_desktop.cli", "--server", url, "--user", "admin",
         "--queue-db", db, "upload", "Local library/crash", str(source), "--create"],
        env={**os.environ, "CL_PASSWORD": "secret"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    with ContentLibraryClient(url, "admin", "secret", tls=TlsSettings()) as client:
        try:
            wait_until(lambda: total_received(sim_service) > 1_000_000, 30, "upload under way")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert len(active_sessions(client)) == 1  # the killed process left its session
        sim_service.faults.throttle(None)
        again = cli(url, "--queue-db", db, "resume")
        assert again.returncode == 0, again.stderr + again.stdout
        assert "done" in again.stdout
        assert active_sessions(client) == []  # the stale session was cleaned up
        (item,) = client.items.find(name="crash", library_id=sim_service.default_library_id)
        (stored,) = client.item_files.list(item)
        assert stored.size == source.stat().st_size
        sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
        assert stored.checksum_info and stored.checksum_info.checksum == sha1  # not just the size
