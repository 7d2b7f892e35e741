"""`cl-transfer resume [ID ...]`: one server that cannot be reached holds back only the jobs
that need it (each named, with the reason); the others run; and numbered jobs alone."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import Direction, JobSpec, ServerRef
from cl_desktop.transfers.store import JobStore
from tests.support.cli import cl_transfer, cli
from tests.support.files import make_file
from tests.support.jobs import upload_spec
from tests.support.servers.simulator import SimulatorServer


def stored_jobs(db: Path, *specs: JobSpec) -> None:
    """Jobs left unfinished in the store `db`, as a crash or Ctrl-C leaves them."""
    store = JobStore(db)
    for position, spec in enumerate(specs):
        store.insert(spec, position, time.time())
    store.close()


def item_names(url: str, library_id: str) -> list[str]:
    with ContentLibraryClient(url, "admin", "secret") as client:
        return sorted(m.name or "" for m in client.items.list_models(library_id))


def test_an_unreachable_server_holds_back_only_its_jobs(sim_service: Any, tmp_path: Path) -> None:
    a, db = sim_service.base_url, tmp_path / "q.sqlite"
    library_a = sim_service.default_library_id
    source = make_file(tmp_path / "r.iso", 50_000, seed=8)
    assert cli(a, "--queue-db", str(tmp_path / "other.sqlite"), "upload", "Local library/r",
               str(source), "--create").returncode == 0  # fmt: skip
    with ContentLibraryClient(a, "admin", "secret") as client:
        (r_id,) = client.items.find(name="r", library_id=library_a)
    with SimulatorServer(tmp_path / "b", users={"admin": "secret"}) as b:
        b_url, library_b = b.base_url, b.default_library_id
    # b has stopped: its port refuses connections
    admin_a, admin_b = ServerRef(a, "admin"), ServerRef(b_url, "admin")
    copy = JobSpec(Direction.COPY, admin_a, library_a, item_id=r_id, item_name="r",
                   target_server=admin_b, target_library_id=library_b)  # fmt: skip
    stored_jobs(
        db,
        copy,  # job 1: needs a and b
        upload_spec(admin_a, library_a, source, item_name="on-a"),  # job 2: a only
        upload_spec(admin_b, library_b, source, item_name="on-b"),  # job 3: b only
    )
    resumed = cl_transfer("--queue-db", str(db), "resume", extra_env={"CL_TO_PASSWORD": "secret"})
    assert resumed.returncode == 1, resumed.stderr  # a connection problem's code
    assert "Traceback" not in resumed.stderr
    (line,) = [t for t in resumed.stderr.splitlines() if t.startswith("error: ")]
    assert line.startswith("error: Connection refused: "), line
    assert line.endswith(f". Left queued for admin on {b_url}: job 1 (copy r), "
                         "job 3 (upload on-b).")  # fmt: skip
    assert resumed.stdout.strip().startswith("job 2: upload on-a: done"), resumed.stdout
    assert item_names(a, library_a) == ["on-a", "r"]
    jobs = json.loads(cl_transfer("--queue-db", str(db), "--json", "jobs").stdout)
    assert [(j["job"], j["state"]) for j in jobs] == [(1, "queued"), (2, "done"), (3, "queued")]


def test_resume_takes_job_ids(sim_service: Any, tmp_path: Path) -> None:
    a, db = sim_service.base_url, tmp_path / "q.sqlite"
    library = sim_service.default_library_id
    source = make_file(tmp_path / "s.iso", 20_000, seed=9)
    ref = ServerRef(a, "admin")
    stored_jobs(db, upload_spec(ref, library, source, item_name="one"),
                upload_spec(ref, library, source, item_name="two"))  # fmt: skip
    only_two = cli(a, "--queue-db", str(db), "resume", "2")
    assert only_two.returncode == 0, only_two.stderr
    assert only_two.stdout.strip() == "job 2: upload two: done (20,000 bytes, verified)"
    assert item_names(a, library) == ["two"]
    again = cli(a, "--queue-db", str(db), "resume", "2")
    assert again.returncode == 2 and "error: Usage: job 2 is done" in again.stderr
    unknown = cli(a, "--queue-db", str(db), "resume", "7")
    assert unknown.returncode == 4 and "error: No such job: no job 7" in unknown.stderr
    rest = cli(a, "--queue-db", str(db), "resume")
    assert rest.returncode == 0 and rest.stdout.startswith("job 1: upload one: done")
