"""`cl-transfer copy LIB/ITEM [--to-server B] [--to-user V] LIB2[/ITEM2]`: between two
embedded services (the target's password from CL_TO_PASSWORD), within one (the server's own
copy), into an existing item, and the exit codes of what goes wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient, TlsSettings
from cl_desktop.transfers.jobs import Direction, JobSpec, ServerRef
from cl_desktop.transfers.store import JobStore
from tests.support.api import active_sessions
from tests.support.cli import cl_transfer, cli
from tests.support.files import make_file
from tests.support.servers import SimulatorServer
from tests.support.tls import ServedCert
from tests.support.uploads import bytes_received, sessions_of
from tests.support.waiting import wait_until

OTHER, OTHER_PASSWORD = "other", "other-secret"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Any]:
    """A second service whose only account is another user with another password."""
    with SimulatorServer(tmp_path / "target", users={OTHER: OTHER_PASSWORD}) as service:
        yield service


def checksums(base: str, user: str, password: str, library: str,
              tls: TlsSettings | None = None) -> dict[str, list[str]]:  # fmt: skip
    with ContentLibraryClient(base, user, password, tls=tls) as c:
        library_id = next(m.id for m in c.libraries.list_models() if m.name == library)
        return {
            m.name or "": [
                (f.checksum_info.checksum or "") if f.checksum_info else ""
                for f in c.item_files.list(m.id or "")
            ]
            for m in c.items.list_models(library_id or "")
        }


def test_copy_to_another_server_and_user(sim_service: Any, target: Any, tmp_path: Path) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "tools.iso", 3_000_000, seed=3)
    up = cli(url, "--queue-db", db, "upload", "Local library/tools", str(source), "--create")
    assert up.returncode == 0, up.stderr
    to = ["--to-server", target.base_url, "--to-user", OTHER]
    env = {"CL_TO_PASSWORD": OTHER_PASSWORD}
    done = cli(url, "--queue-db", db, "--json", "copy", "Local library/tools", *to,
               "Local library", extra_env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert (row["direction"], row["state"], row["verification"]) == ("copy", "done", "verified")
    assert row["target_server"] == target.base_url and row["target_user"] == OTHER
    assert "streamed through this computer" in row["note"]
    copied = checksums(target.base_url, OTHER, OTHER_PASSWORD, "Local library")
    assert copied == checksums(url, "admin", "secret", "Local library")
    # again, named: the existing item is updated, not a second one made
    again = cli(url, "--queue-db", db, "copy", "Local library/tools", *to,
                "Local library/tools", extra_env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "copy tools -> tools on" in again.stdout and "verified" in again.stdout
    assert list(checksums(target.base_url, OTHER, OTHER_PASSWORD, "Local library")) == ["tools"]
    with ContentLibraryClient(target.base_url, OTHER, OTHER_PASSWORD) as c:
        assert active_sessions(c) == []


def test_copy_within_one_server_is_the_servers_own(sim_service: Any, tmp_path: Path) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "a.iso", 1_000_000, seed=4)
    assert cli(url, "--queue-db", db, "upload", "Local library/a", str(source),
               "--create").returncode == 0  # fmt: skip
    done = cli(url, "--queue-db", db, "copy", "Local library/a", "Local library")
    assert done.returncode == 0, done.stderr
    assert "copy a -> a on" not in done.stdout  # the same server: no "on SERVER"
    assert "copied by the server itself" in done.stdout
    assert sorted(checksums(url, "admin", "secret", "Local library")) == ["a", "a (2)"]


def test_copy_exit_codes(sim_service: Any, target: Any, tmp_path: Path) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "b.iso", 100_000, seed=5)
    assert cli(url, "--queue-db", db, "upload", "Local library/b", str(source),
               "--create").returncode == 0  # fmt: skip
    base = ["--server", url, "--user", "admin", "--queue-db", db, "copy", "Local library/b",
            "--to-server", target.base_url, "--to-user", OTHER, "Local library"]  # fmt: skip
    missing = cl_transfer(*base)  # no CL_TO_PASSWORD, no keyring, no terminal
    assert missing.returncode == 3
    assert "CL_TO_PASSWORD" in missing.stderr
    wrong = cl_transfer(*base, extra_env={"CL_TO_PASSWORD": "nope"})
    assert wrong.returncode == 3, wrong.stderr
    env = {"CL_TO_PASSWORD": OTHER_PASSWORD}
    no_item = cl_transfer(*[a if a != "Local library/b" else "Local library/zz" for a in base],
                          extra_env=env)  # fmt: skip
    assert no_item.returncode == 4, no_item.stderr
    no_library = cl_transfer(*base[:-1], "Nowhere", extra_env=env)
    assert no_library.returncode == 4, no_library.stderr
    assert checksums(target.base_url, OTHER, OTHER_PASSWORD, "Local library") == {}


def test_resume_logs_in_to_a_copys_target_with_cl_to_password(
    sim_service: Any, target: Any, tmp_path: Path
) -> None:
    """A copy left in the store (its process ended) is resumed by `cl-transfer resume`: the
    source's account with CL_PASSWORD, the target's with CL_TO_PASSWORD."""
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "r.iso", 500_000, seed=6)
    assert cli(url, "--queue-db", db, "upload", "Local library/r", str(source),
               "--create").returncode == 0  # fmt: skip
    with ContentLibraryClient(url, "admin", "secret") as c:
        library = c.libraries.list()[0]
        item_id = c.items.find(name="r", library_id=library)[0]
    with ContentLibraryClient(target.base_url, OTHER, OTHER_PASSWORD) as c:
        target_library = c.libraries.list()[0]
    store = JobStore(db)
    spec = JobSpec(Direction.COPY, ServerRef(url, "admin"), library, item_id=item_id,
                   item_name="r", target_server=ServerRef(target.base_url, OTHER),
                   target_library_id=target_library)  # fmt: skip
    store.insert(spec, 10, time.time())
    store.close()
    resumed = cl_transfer("--queue-db", db, "--json", "resume",
                          extra_env={"CL_TO_PASSWORD": OTHER_PASSWORD})  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    [row] = json.loads(resumed.stdout)
    assert (row["direction"], row["state"], row["verification"]) == ("copy", "done", "verified")
    copied = checksums(target.base_url, OTHER, OTHER_PASSWORD, "Local library")
    assert copied == checksums(url, "admin", "secret", "Local library")


def test_to_ca_file_trusts_the_destination_of_copy_fanout_and_compare(
    sim_service: Any, tls_sim: tuple[Any, ServedCert], tmp_path: Path
) -> None:
    """--to-ca-file is the destination's CA for every command with --to-server (the source's
    --ca-file stays the source's); a missing file or no --to-server is a usage error."""
    service, served = tls_sim
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "c.iso", 200_000, seed=7)
    assert cli(url, "--queue-db", db, "upload", "Local library/c", str(source),
               "--create").returncode == 0  # fmt: skip
    env = {"CL_TO_PASSWORD": "secret"}
    to = ["--to-server", service.base_url]
    trusted = ["--to-ca-file", str(served.ca_file)]
    untrusted = cli(url, "--queue-db", db, "copy", "Local library/c", *to, "Local library",
                    extra_env=env)  # fmt: skip
    assert untrusted.returncode == 5, untrusted.stderr  # TLS trust, before any job
    copied = cli(url, "--queue-db", db, "copy", "Local library/c", *trusted, *to,
                 "Local library", extra_env=env)  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    fanned = cli(url, "--queue-db", db, "fanout", str(source), *trusted, *to,
                 "Local library/fanned", extra_env=env)  # fmt: skip
    assert fanned.returncode == 0, fanned.stderr
    tls = TlsSettings(ca_file=str(served.ca_file))
    assert sorted(checksums(service.base_url, "admin", "secret", "Local library", tls)) == [
        "c", "fanned"]  # fmt: skip
    compared = cli(url, "compare", "Local library", *to, *trusted, "Local library",
                   extra_env=env)  # fmt: skip
    assert compared.returncode == 9, compared.stderr  # B has "fanned", A does not
    assert "> fanned" in compared.stdout
    nope = str(tmp_path / "nope.pem")
    missing = cli(url, "compare", "Local library", *to, "--to-ca-file", nope, "Local library")
    assert missing.returncode == 2 and "--to-ca-file" in missing.stderr
    alone = cli(url, "copy", "Local library/c", *trusted, "Local library")
    assert alone.returncode == 2 and "--to-ca-file needs --to-server" in alone.stderr


def test_remove_of_an_interrupted_copy_deletes_the_item_it_made_on_the_target(
    sim_service: Any, target: Any, tmp_path: Path
) -> None:
    """Ctrl-C mid-copy leaves the job paused with the (empty) item it made on the target;
    `remove` deletes that item there, logging in to the target with CL_TO_PASSWORD."""
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "big.iso", 6_000_000, seed=8)
    assert cli(url, "--queue-db", db, "upload", "Local library/big", str(source),
               "--create").returncode == 0  # fmt: skip
    env = {**os.environ, "CL_PASSWORD": "secret", "CL_TO_PASSWORD": OTHER_PASSWORD}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cl_desktop.cli", "--server", url, "--user", "admin",
         "--queue-db", db, "--limit", "0.5", "copy", "Local library/big",
         "--to-server", target.base_url, "--to-user", OTHER, "Local library/big4"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        wait_until(
            lambda: any(bytes_received(target, s) > 100_000 for s in sessions_of(target)),
            60,
            "the copy moving bytes",
        )
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert checksums(target.base_url, OTHER, OTHER_PASSWORD, "Local library") == {"big4": []}
    [job] = JobStore(db).load()[1:]
    removed = cl_transfer("--queue-db", db, "remove", str(job.id),
                          extra_env={"CL_TO_PASSWORD": OTHER_PASSWORD})  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    assert checksums(target.base_url, OTHER, OTHER_PASSWORD, "Local library") == {}
    with ContentLibraryClient(target.base_url, OTHER, OTHER_PASSWORD) as c:
        assert active_sessions(c) == []


def test_a_copys_job_and_history_say_where_it_went(
    sim_service: Any, target: Any, tmp_path: Path
) -> None:
    """A copy into a library (the name picked by the run: "w (2)") is listed by `jobs` and
    `history` with its target's server, library and item; the record's own ids are the
    source's, not a mix of both servers."""
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "w.iso", 200_000, seed=9)
    assert cli(url, "--queue-db", db, "upload", "Local library/w", str(source),
               "--create").returncode == 0  # fmt: skip
    with ContentLibraryClient(url, "admin", "secret") as c:
        library = c.libraries.list()[0]
        source_id = c.items.find(name="w", library_id=library)[0]
    with ContentLibraryClient(target.base_url, OTHER, OTHER_PASSWORD) as c:
        target_library = c.libraries.list()[0]
        c.items.create(target_library, "w", type="iso")  # taken: the copy is "w (2)"
    env = {"CL_TO_PASSWORD": OTHER_PASSWORD}
    done = cli(url, "--queue-db", db, "copy", "Local library/w", "--to-server", target.base_url,
               "--to-user", OTHER, "Local library", extra_env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with ContentLibraryClient(target.base_url, OTHER, OTHER_PASSWORD) as c:
        copied_id = c.items.find(name="w (2)", library_id=target_library)[0]

    jobs = cl_transfer("--queue-db", db, "--json", "jobs")
    row = json.loads(jobs.stdout)[-1]
    assert (row["item_id"], row["item"]) == (source_id, "w")
    assert (row["target_item_id"], row["target_item"]) == (copied_id, "w (2)")
    assert row["target_library_id"] == target_library
    text = cl_transfer("--queue-db", db, "jobs").stdout.splitlines()[-1]
    assert f"w -> w (2) on {OTHER}@" in text

    history = cl_transfer("--queue-db", db, "--json", "history")
    [record] = [r for r in json.loads(history.stdout) if r["direction"] == "copy"]
    assert (record["server"], record["library_id"], record["item_id"]) == (
        url, library, source_id)  # fmt: skip
    assert (record["target_server"], record["target_user"]) == (target.base_url, OTHER)
    assert (record["target_library_id"], record["target_item_id"]) == (target_library, copied_id)
    lines = cl_transfer("--queue-db", db, "history").stdout.splitlines()
    assert [line for line in lines if f"-> w (2) on {target.base_url}" in line]


def test_copy_onto_itself_or_into_another_type_is_refused(sim_service: Any, tmp_path: Path) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "s.iso", 100_000, seed=10)
    assert cli(url, "--queue-db", db, "upload", "Local library/s", str(source),
               "--create").returncode == 0  # fmt: skip
    with ContentLibraryClient(url, "admin", "secret") as c:
        c.items.create(c.libraries.list()[0], "tpl", type="ovf")
    before = checksums(url, "admin", "secret", "Local library")
    itself = cli(url, "--queue-db", db, "copy", "Local library/s", "Local library/s")
    assert itself.returncode == 1, itself.stderr
    assert "Cannot copy there: the target item 's'" in itself.stdout
    assert "is the item being copied" in itself.stdout
    other = cli(url, "--queue-db", db, "copy", "Local library/s", "Local library/tpl")
    assert other.returncode == 1, other.stderr
    assert "of type iso" in other.stdout and "of type ovf" in other.stdout
    assert checksums(url, "admin", "secret", "Local library") == before
