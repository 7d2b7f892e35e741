"""`cl-transfer sessions` and `session ACTION ID`, each checked by what it did on the server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient, errors
from tests.support.cli import cli


def test_session_commands_change_the_server_state(
    sim_service: Any, sim_api_client: ContentLibraryClient
) -> None:
    url, backend = sim_service.base_url, sim_service.backend
    item = sim_api_client.items.create(sim_service.default_library_id, "s", type="file")
    up = sim_api_client.update_sessions.create(item)
    down = sim_api_client.download_sessions.create(item)
    listed = cli(url, "sessions")
    expires = sim_api_client.update_sessions.get(up).expiration_time
    assert expires is not None
    local = expires.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert f"update    {up}  ACTIVE  s [{item}]  expires {local}  progress=0" in listed.stdout
    assert f"download  {down}  ACTIVE  s [{item}]  expires " in listed.stdout
    as_json = json.loads(cli(url, "--json", "sessions").stdout)
    (up_row,) = as_json["update_sessions"]
    (down_row,) = as_json["download_sessions"]
    assert (up_row["id"], up_row["item_name"], up_row["library_item_id"]) == (up, "s", item)
    assert up_row["expiration_time"] == expires.isoformat()
    assert (down_row["id"], down_row["item_name"]) == (down, "s")
    assert down_row["expiration_time"]

    with backend.lock:  # as if the session had been idle for 200 s
        backend.update_sessions[up].last_activity -= 200
    before = sim_api_client.update_sessions.get(up).expiration_time
    assert cli(url, "session", "keep-alive", up).returncode == 0
    after = sim_api_client.update_sessions.get(up).expiration_time
    assert before is not None and after is not None
    assert (after - before).total_seconds() >= 190  # the expiry moved forward

    assert cli(url, "session", "fail", up, "--message", "from test").returncode == 0
    failed = sim_api_client.update_sessions.get(up)
    assert str(failed.state) == "ERROR" and "from test" in str(failed.error_message)
    assert cli(url, "session", "delete", up).returncode == 0
    with pytest.raises(errors.NotFound):
        sim_api_client.update_sessions.get(up)

    canceled = cli(url, "session", "cancel", down)
    assert (canceled.returncode, canceled.stdout) == (0, f"cancel: download session {down}\n")
    assert str(sim_api_client.download_sessions.get(down).state) == "CANCELED"
    assert cli(url, "session", "delete", down).returncode == 0
    with pytest.raises(errors.NotFound):
        sim_api_client.download_sessions.get(down)
    again = cli(url, "session", "delete", down)
    assert again.returncode == 4, again.stderr
    assert again.stderr == (
        f"error: No such session: delete session: no update session and no download session "
        f"{down!r} of admin@{url.removeprefix('http://')}. `cl-transfer sessions` lists the "
        "sessions of this user.\n"
    )
    assert backend.update_sessions == {} and backend.download_sessions == {}
