"""The command line as a new user meets it: jobs and history without naming the server, a
plain-HTTP server named as such, errors worded for a terminal (no window controls), the
kind of session or the file that was not found, a missing password, empty listings, session
item names and expiry, and the local path of every downloaded file in --json results."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import cl_desktop.cli.commands
import cl_desktop.credentials.trust
import cl_desktop.transfers.queue
from cl_desktop.api import ContentLibraryClient
from cl_desktop.api.errors import DescribedError
from cl_desktop.transfers.jobs import JobSpec, ServerRef
from cl_desktop.transfers.store import JobStore
from tests.support.cli import cl_transfer, cli
from tests.support.files import make_file
from tests.support.jobs import download_spec, upload_spec
from tests.support.servers.simulator import SimulatorServer

# Words that name the window's controls: they mean nothing on a command line.
GUI_WORDS = re.compile(
    r"\b(refresh|click|the view|window|dialog|button|menu|drop|session monitor|row|tab)\b",
    re.IGNORECASE,
)


def stored_jobs(db: Path, *specs: JobSpec) -> None:
    """Jobs left unfinished in the store `db`, as a crash or Ctrl-C leaves them."""
    store = JobStore(db)
    for position, spec in enumerate(specs):
        store.insert(spec, position, time.time())
    store.close()  # the claims go with it: any process may take the jobs


def test_resume_and_history_need_no_server_nor_user(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    """`resume` logs in to the server, as the user, each job names (two servers here, with
    different users), and its --json result, like history's, has each downloaded file's path."""
    db, out = tmp_path / "q.sqlite", tmp_path / "out"
    up_source = make_file(tmp_path / "a.bin", 40_000, seed=3)
    down_source = make_file(tmp_path / "b.bin", 30_000, seed=4)
    with SimulatorServer(tmp_path / "other", users={"ops": "secret"}) as other:
        placed = cli(other.base_url, "--queue-db", str(db), "upload", "Local library/there",
                     str(down_source), "--create", user="ops")  # fmt: skip
        assert placed.returncode == 0, placed.stderr
        with ContentLibraryClient(other.base_url, "ops", "secret") as ops:
            (there,) = ops.items.list(other.default_library_id)
        admin, ops_ref = ServerRef(sim_service.base_url, "admin"), ServerRef(other.base_url, "ops")
        stored_jobs(
            db,
            upload_spec(admin, sim_service.default_library_id, up_source, item_name="a"),
            download_spec(ops_ref, other.default_library_id, there, out),
        )
        logins = dict(sim_service.backend.logins)  # the test's own client's
        resumed = cl_transfer("--queue-db", str(db), "--json", "resume")
        assert resumed.returncode == 0, resumed.stderr
        assert other.backend.logins == {} and sim_service.backend.logins == logins  # logged out
    up_row, down_row = json.loads(resumed.stdout)
    assert (up_row["direction"], up_row["state"], up_row["item"]) == ("upload", "done", "a")
    assert (up_row["target"], up_row["paths"]) == (None, [])
    assert (down_row["direction"], down_row["state"]) == ("download", "done")
    written = str(out / "b.bin")
    assert (down_row["target"], down_row["paths"]) == (written, [written])
    assert Path(written).read_bytes() == down_source.read_bytes()
    (item,) = sim_api_client.items.list_models(sim_service.default_library_id)
    assert (item.name, item.size) == ("a", 40_000)

    history = cl_transfer("--queue-db", str(db), "--json", "history", password=None)
    assert history.returncode == 0, history.stderr
    records = json.loads(history.stdout)
    assert [(r["direction"], r["item_name"], r["path"]) for r in records] == [
        ("upload", "there", None),
        ("upload", "a", None),
        ("download", "there", written),
    ]
    text = cl_transfer("--queue-db", str(db), "history", password=None).stdout.splitlines()
    assert text[2].endswith(f"there/b.bin  verified   -> {written}"), text[2]
    jobs = cl_transfer("--queue-db", str(db), "--json", "jobs", password=None)
    assert [j["paths"] for j in json.loads(jobs.stdout)] == [[], [], [written]]


def test_a_job_store_command_without_password_for_its_jobs_exits_3(
    sim_service: Any, tmp_path: Path
) -> None:
    db = tmp_path / "q.sqlite"
    source = make_file(tmp_path / "a.bin", 1000)
    ref = ServerRef(sim_service.base_url, "admin")
    stored_jobs(db, upload_spec(ref, sim_service.default_library_id, source, item_name="a"))
    resumed = cl_transfer("--queue-db", str(db), "resume", password=None)
    assert resumed.returncode == 3, resumed.stderr
    where = sim_service.base_url.removeprefix("http://")
    assert resumed.stderr == (
        f"error: No password: no password for admin on {sim_service.base_url}: set "
        "CL_PASSWORD, store the password in the keyring (service 'cl-desktop', entry "
        f"'admin@http://{where}'), or run on a terminal to be asked for it. Left queued for "
        f"admin on {sim_service.base_url}: job 1 (upload a).\n"
    )
    assert sim_service.backend.logins == {}
    with ContentLibraryClient(sim_service.base_url, "admin", "secret") as client:
        assert client.items.list(sim_service.default_library_id) == ()  # nothing started
    missing = cl_transfer("--server", sim_service.base_url, "--user", "admin", "libraries",
                          password=None)  # fmt: skip
    assert missing.returncode == 3 and missing.stderr.startswith("error: No password: ")
    assert cl_transfer("libraries").stderr == "error: Usage: libraries needs --server\n"
    removed = cl_transfer("--queue-db", str(db), "remove", "1", password=None)  # no login needed
    assert (removed.returncode, removed.stdout) == (0, "removed job 1: upload a\n")


def test_a_plain_http_server_is_named_as_such(sim_service: Any) -> None:
    """Given without a scheme (https is assumed) or with https://, a plain-HTTP server's
    port is named for what it is, with the address that works."""
    where = sim_service.base_url.removeprefix("http://")
    for server in (where, f"https://{where}"):
        result = cli(server, "libraries")
        assert result.returncode == 1, result.stderr
        assert result.stderr == (
            f"error: Not a TLS port: log in: {where} answered plain HTTP, not HTTPS: use "
            f"http://{where} if you mean it. Otherwise check the port: vCenter serves its API "
            "over https on 443.\n"
        )
    trusting = cl_transfer("--server", where, "trust")
    assert trusting.returncode == 1
    assert f"read certificate: {where} answered plain HTTP, not HTTPS: use http://{where}" in (
        trusting.stderr
    )
    assert sim_service.backend.logins == {}
    assert cli(f"http://{where}", "libraries").returncode == 0


def test_a_file_the_item_does_not_have_is_exit_4(sim_service: Any, tmp_path: Path) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "one.bin", 2000)
    assert cli(url, "--queue-db", db, "upload", "Local library/x", str(source),
               "--create").returncode == 0  # fmt: skip
    out = tmp_path / "out"
    result = cli(url, "--queue-db", db, "download", "Local library/x", str(out),
                 "--file", "one.bin", "--file", "nope.bin")  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert result.stderr == (
        "error: No such file: download: Local library/x has no file 'nope.bin' (it has "
        "one.bin). `cl-transfer files LIBRARY/ITEM` lists the item's files.\n"
    )
    assert not out.exists() and sim_service.backend.download_sessions == {}
    jobs = cli(url, "--queue-db", db, "--json", "jobs")
    assert len(json.loads(jobs.stdout)) == 1  # the upload's; no download job was made


def test_empty_listings_say_so_and_json_stays_a_list(sim_service: Any, tmp_path: Path) -> None:
    url = sim_service.base_url
    assert cli(url, "items", "Local library").stdout == "no items\n"
    assert json.loads(cli(url, "--json", "items", "Local library").stdout) == []
    db = str(tmp_path / "q.sqlite")
    assert cl_transfer("--queue-db", db, "jobs").stdout == "no jobs\n"
    assert cl_transfer("--queue-db", db, "history").stdout == "no history\n"
    assert json.loads(cl_transfer("--queue-db", db, "--json", "history").stdout) == []


def test_cli_errors_name_no_window_controls(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    """The hints of errors the window shares ("refresh the view", "the session monitor") are
    worded for a terminal by cl-transfer, also in a job's failure."""
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    item = sim_api_client.items.create(sim_service.default_library_id, "held", type="file")
    holder = sim_api_client.update_sessions.create(item)  # RESOURCE_BUSY for another one
    source = make_file(tmp_path / "held.bin", 1000)
    runs = {
        "busy": cli(url, "--queue-db", db, "upload", "Local library/held", str(source)),
        "no item": cli(url, "download", "Local library/gone", str(tmp_path)),
        "no id": cli(url, "files", "no-such-id"),
        "no session": cli(url, "session", "cancel", "no-such-session"),
    }
    sim_api_client.update_sessions.cancel(holder)
    runs["not now"] = cli(url, "session", "keep-alive", holder)
    for name, run in runs.items():
        said = run.stdout + run.stderr
        assert run.returncode != 0 and said, name
        assert not GUI_WORDS.search(said), (name, said)
    busy = "job 1: upload held: failed: Transfer failed: start upload: another update session"
    assert busy in runs["busy"].stdout and holder in runs["busy"].stdout
    # a name looked up: a typo's hint, where the names are listed
    assert (
        "Check the name: `cl-transfer items 'Local library'` lists them." in runs["no item"].stderr
    )
    # the same errors in the window keep its words
    from cl_desktop.api import errors

    assert "refresh the view" in errors.NotFound("gone").message


def test_no_error_hint_names_window_controls_on_the_command_line() -> None:
    classes: list[type[DescribedError]] = []
    pending = [DescribedError]
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending += cls.__subclasses__()
    assert len(classes) > 40  # the api's, the engine's, the credentials' and the CLI's
    worded = {
        cls.__name__: cls.hint if cls.command_line_hint is None else cls.command_line_hint
        for cls in classes
    }
    assert {name: hint for name, hint in worded.items() if GUI_WORDS.search(hint)} == {}
    assert worded["NoSuchSession"] == "`cl-transfer sessions` lists the sessions of this user."
    # the walk reaches the classes of every layer that words errors
    assert {"NoSuchFile", "CertificateChanged", "JobClaimed", "DiskFullError"} <= set(worded)
    assert cl_desktop.cli.commands and cl_desktop.credentials.trust and cl_desktop.transfers.queue
