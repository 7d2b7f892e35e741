"""The keep-alive interval is a setting (RetryPolicy.keep_alive_max, the preferences' "keep-alive
interval"): a transfer's session gets a keep-alive at least that often, even when the server
would wait far longer (the service's sessions here last minutes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cl_desktop.transfers.jobs import JobState
from cl_desktop.transfers.policy import RetryPolicy
from tests.support.files import make_file
from tests.support.jobs import upload_spec
from tests.support.uploads import ServerLog, ref_for, sim_queue


def test_an_upload_sends_keep_alives_at_the_interval_set(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ServerLog(sim.backend, monkeypatch)
    payload = make_file(tmp_path / "k.bin", 8_000_000)
    sim.faults.throttle(2_000_000)  # a few seconds of upload
    policy = RetryPolicy(keep_alive_max=0.25)
    with sim_queue(tmp_path / "q.sqlite", retry_policy=policy) as queue:
        spec = upload_spec(ref_for(sim.base_url), sim.default_library_id, payload)
        job = queue.wait(queue.add(spec), 60)
    assert job.state is JobState.DONE, job.error_message
    keep_alives = [call for call in server.calls if call[0] == "keep_alive"]
    # with the default (60 s, and sessions of minutes) this upload would send none
    assert len(keep_alives) >= 3, server.calls
    assert len({call[1] for call in keep_alives}) == 1  # the job's one session
