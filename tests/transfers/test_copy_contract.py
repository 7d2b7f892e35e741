"""A copy within one server on each server target (the embedded service in both dialects,
vcsim): the server's own item copy, named as asked, its files as the source's."""

from __future__ import annotations

from pathlib import Path

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import Direction, JobSpec, JobState, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from tests.support.api import active_sessions, vcsim_deviation
from tests.support.files import make_file
from tests.support.jobs import uploaded_item
from tests.support.servers import ServerTarget


def test_a_copy_within_one_server_is_the_servers_own(
    server_target: ServerTarget,
    api_client: ContentLibraryClient,
    server_ref: ServerRef,
    library_id: str,
    queue: TransferQueue,
    tmp_path: Path,
) -> None:
    item_id = uploaded_item(queue, server_ref, library_id, make_file(tmp_path / "c.iso", 300_000))
    spec = JobSpec(Direction.COPY, server_ref, library_id, item_id=item_id, item_name="c",
                   target_library_id=library_id)  # fmt: skip
    job = queue.wait(queue.add(spec), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.note.startswith("copied by the server itself")
    unchecked = vcsim_deviation(server_target, "no checksums anywhere")
    assert job.verification is (Verification.SIZE_ONLY if unchecked else Verification.VERIFIED)
    # the same library: the copy is "c (2)" (vcsim names it "c" and is renamed)
    names = {m.name: m.id for m in api_client.items.list_models(library_id)}
    assert sorted(n or "" for n in names) == ["c", "c (2)"]
    assert names["c (2)"] == job.item_id

    def files(item: str) -> list[tuple[str, int | None]]:
        return sorted((f.name or "", f.size) for f in api_client.item_files.list(item))

    assert files(job.item_id or "") == files(item_id) == [("c.iso", 300_000)]
    assert active_sessions(api_client) == []
