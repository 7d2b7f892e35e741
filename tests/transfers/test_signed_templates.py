"""Signed OVF templates: the preview warnings their signature raises are ignored when the job
allows them, else the job waits (paused, its session kept alive and its files kept) for the
user's decision, or fails naming them where nobody can be asked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import (
    Direction,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
)
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from tests.support.cli import cli
from tests.support.jobs import upload_spec
from tests.support.servers import SimulatorServer
from tests.support.signed import expired_pem, self_signed_pem, write_signed_template
from tests.support.uploads import PASSWORD, ServerLog, sessions_of, sim_queue
from tests.support.waiting import wait_until

TIMEOUT = 3.0  # the service's session timeout: the wait for a decision must outlive it
SELF_SIGNED = "SELF_SIGNED_CERTIFICATE"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Any]:
    with SimulatorServer(tmp_path / "srv", users={"admin": PASSWORD},
                         session_timeout=TIMEOUT) as service:  # fmt: skip
        yield service


@pytest.fixture
def server(sim: Any, monkeypatch: pytest.MonkeyPatch) -> ServerLog:
    return ServerLog(sim.backend, monkeypatch)


@pytest.fixture(params=["api", "rest"])
def ref(request: pytest.FixtureRequest, sim: Any) -> ServerRef:
    return ServerRef(sim.base_url, "admin", request.param)


@pytest.fixture
def client(sim: Any) -> Iterator[ContentLibraryClient]:
    with ContentLibraryClient(sim.base_url, "admin", PASSWORD) as c:
        yield c


@pytest.fixture
def library_id(client: ContentLibraryClient) -> str:
    return client.libraries.create_local("signed", client.datastores.list()[0].datastore)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "q.sqlite"


@pytest.fixture
def queue(sim: Any, db: Path) -> Iterator[TransferQueue]:
    with sim_queue(db) as q:
        yield q


def stored_names(client: ContentLibraryClient, item_id: str) -> set[str]:
    return {f.name for f in client.item_files.list(item_id)}


def test_allowed_warning_completes(
    queue: TransferQueue, ref: ServerRef, library_id: str, client: ContentLibraryClient,
    tmp_path: Path, sim: Any,
) -> None:  # fmt: skip
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    spec = upload_spec(ref, library_id, ovf, ignore_warnings=(SELF_SIGNED,))
    job = queue.wait(queue.add(spec), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert job.item_id and stored_names(client, job.item_id) == {"signed.ovf", "signed-disk1.vmdk"}
    assert not sessions_of(sim)


def test_waits_for_a_decision_keeping_its_session_then_ignores(
    queue: TransferQueue, ref: ServerRef, library_id: str, client: ContentLibraryClient,
    tmp_path: Path, sim: Any, server: ServerLog, db: Path,
) -> None:  # fmt: skip
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    job = queue.wait(queue.add(upload_spec(ref, library_id, ovf)), 60)
    assert (job.state, job.phase) == (JobState.PAUSED, Phase.NEEDS_DECISION)
    assert job.decision is not None and job.decision.types == (SELF_SIGNED,)
    assert "Appliance Vendor" in job.decision.subject and job.decision.self_signed
    assert job.decision.valid_until.endswith("UTC")
    assert job.note == "needs a decision: the signing certificate is self-signed"
    session_id = job.session_id
    assert session_id and list(sessions_of(sim)) == [session_id]
    # the session outlives the service's idle timeout while the user thinks
    wait_until(lambda: len(server.of("keep_alive")) >= 3, timeout=4 * TIMEOUT)
    assert list(sessions_of(sim)) == [session_id]

    queue.decide_warnings(job.id, {SELF_SIGNED})
    assert JobStore(db).load()[0].spec.ignore_warnings == (SELF_SIGNED,)  # persisted
    job = queue.wait(job.id, 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.decision is None
    assert [c for c in server.calls if c[0] == "create"] == [("create", session_id)]
    assert server.puts("signed-disk1.vmdk") == 1  # the files it kept were not sent again
    assert job.item_id and stored_names(client, job.item_id) == {"signed.ovf", "signed-disk1.vmdk"}
    assert not sessions_of(sim)


def test_refused_fails_naming_the_warnings_and_leaves_nothing(
    queue: TransferQueue, ref: ServerRef, library_id: str, tmp_path: Path, sim: Any,
    server: ServerLog,
) -> None:  # fmt: skip
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    job = queue.wait(queue.add(upload_spec(ref, library_id, ovf)), 60)
    assert job.phase is Phase.NEEDS_DECISION and job.item_id and job.item_created
    queue.decide_warnings(job.id, ())
    job = queue.wait(job.id, 10)
    assert job.state is JobState.FAILED
    assert job.error_title == "Signature warnings not accepted"
    assert "self-signed (SELF_SIGNED_CERTIFICATE)" in job.error_message
    assert "refused" in job.error_message
    assert queue.wait_cleanups(10)
    assert not sessions_of(sim)
    assert server.empty_items(library_id) == []
    assert not queue.pending_cleanups()


def test_only_the_ticked_warnings_are_ignored(
    queue: TransferQueue, ref: ServerRef, library_id: str, tmp_path: Path, sim: Any,
) -> None:  # fmt: skip
    pem = expired_pem(trustme.CA(), datetime.now(UTC) - timedelta(days=3))
    ovf = write_signed_template(tmp_path / "tpl", pem)
    job = queue.wait(queue.add(upload_spec(ref, library_id, ovf)), 60)
    assert job.decision is not None
    assert job.decision.types == ("UNTRUSTED_CERTIFICATE", "EXPIRED_CERTIFICATE")
    queue.decide_warnings(job.id, {"EXPIRED_CERTIFICATE"})
    job = queue.wait(job.id, 10)
    assert job.state is JobState.FAILED
    assert "UNTRUSTED_CERTIFICATE" in job.error_message
    assert "EXPIRED" not in job.error_message  # the one the user allowed is not blamed
    assert queue.wait_cleanups(10) and not sessions_of(sim)


def test_without_anyone_to_ask_the_job_fails_with_the_warnings(
    ref: ServerRef, library_id: str, client: ContentLibraryClient, tmp_path: Path, sim: Any,
    server: ServerLog,
) -> None:  # fmt: skip
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    with sim_queue(tmp_path / "cli.sqlite", ask_about_warnings=False) as queue:
        job = queue.wait(queue.add(upload_spec(ref, library_id, ovf)), 60)
    assert job.state is JobState.FAILED
    assert "self-signed (SELF_SIGNED_CERTIFICATE)" in job.error_message
    assert not sessions_of(sim)
    assert [c[0] for c in server.calls if c[0] in ("fail", "delete")] == ["fail", "delete"]
    assert not client.items.list(library_id)  # the item it created is gone


def test_an_unsigned_template_needs_no_decision(
    queue: TransferQueue, ref: ServerRef, library_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    ovf.with_suffix(".cert").unlink()
    job = queue.wait(queue.add(upload_spec(ref, library_id, ovf)), 60)
    assert job.state is JobState.DONE, job.error_message


def test_ignore_warnings_round_trip_and_old_jobs_load() -> None:
    spec = JobSpec(Direction.UPLOAD, ServerRef("https://vc", "u"), "lib", paths=("/a.ovf",),
                   ignore_warnings=(SELF_SIGNED, "EXPIRED_CERTIFICATE"))  # fmt: skip
    assert JobSpec.from_json(spec.to_json()) == spec
    old = spec.to_json().replace(', "ignore_warnings": ["SELF_SIGNED_CERTIFICATE", '
                                 '"EXPIRED_CERTIFICATE"]', "")  # fmt: skip
    assert "ignore_warnings" not in old
    assert JobSpec.from_json(old).ignore_warnings == ()


def test_cli_fails_listing_the_warnings_unless_told_to_ignore_them(
    sim_service: Any, tmp_path: Path
) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    refused = cli(url, "--queue-db", db, "upload", "Local library/signed", str(ovf), "--create")
    assert refused.returncode == 1, refused.stderr
    assert "Signature warnings not accepted" in refused.stdout
    assert "self-signed (SELF_SIGNED_CERTIFICATE)" in refused.stdout
    assert "--ignore-warning" in refused.stdout
    assert not sessions_of(sim_service)

    accepted = cli(url, "--queue-db", db, "--json", "upload", "Local library/signed", str(ovf),
                   "--create", "--ignore-warning", SELF_SIGNED)  # fmt: skip
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    (result,) = json.loads(accepted.stdout)
    assert result["state"] == "done" and result["verification"] == "verified"

    bad = cli(url, "upload", "Local library/x", str(ovf), "--ignore-warning", "BOGUS")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_a_job_waiting_for_a_decision_asks_again_after_a_restart(
    ref: ServerRef, library_id: str, tmp_path: Path, sim: Any, db: Path
) -> None:
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    with sim_queue(db) as queue:
        job = queue.wait(queue.add(upload_spec(ref, library_id, ovf)), 60)
        assert job.phase is Phase.NEEDS_DECISION
    assert not sessions_of(sim)  # nobody keeps it alive after exit: ended, the item kept
    (stored,) = JobStore(db).load()
    assert stored.state is JobState.QUEUED and stored.item_id == job.item_id
    with sim_queue(db) as queue:  # the next start runs it into the same item and asks again
        again = queue.wait(job.id, 60)
        assert again.phase is Phase.NEEDS_DECISION and again.item_id == job.item_id
        queue.decide_warnings(job.id, {SELF_SIGNED})
        assert queue.wait(job.id, 60).state is JobState.DONE
