"""Comparing two libraries on two embedded services: the engine and `cl-transfer compare`."""

from __future__ import annotations

import json
from typing import Any

from cl_desktop.api import ContentLibraryClient
from cl_desktop.cli.errors import EXIT_DIFFERENT
from cl_desktop.transfers.compare import ItemStatus, compare_libraries
from tests.support.accounts import SIM_READONLY_USER
from tests.support.cli import cli
from tests.support.items import put_item

# what library A holds (B: the same, but "changed" has other bytes and "missing in B" is not)
A_ITEMS = {
    "same": {"same.iso": b"s" * 5000},
    "Tools": {"a.sh": b"echo a\n", "b.sh": b"echo b\n"},
    "changed": {"disk.img": b"1" * 4000},
    "missing in B": {"x.bin": b"x" * 100},
}


def seed(sim_service: Any, sim_service_b: Any) -> tuple[ContentLibraryClient, ContentLibraryClient]:
    a = ContentLibraryClient(sim_service.base_url, "admin", "secret")
    b = ContentLibraryClient(sim_service_b.base_url, "admin", "secret")
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    for name, files in A_ITEMS.items():
        put_item(a, lib_a, name, files)
    for name in ("same", "Tools"):
        put_item(b, lib_b, name, A_ITEMS[name])
    put_item(b, lib_b, "changed", {"disk.img": b"2" * 4000})  # same size, other bytes
    return a, b


def test_compare_names_the_missing_and_the_changed_item(sim_service: Any,
                                                        sim_service_b: Any) -> None:  # fmt: skip
    a, b = seed(sim_service, sim_service_b)
    result = compare_libraries(a, sim_service.default_library_id, b,
                               sim_service_b.default_library_id)  # fmt: skip
    by_name = {i.name: i for i in result.items}
    assert {n: i.status for n, i in by_name.items()} == {
        "same": ItemStatus.SAME,
        "Tools": ItemStatus.SAME,
        "changed": ItemStatus.CHANGED,
        "missing in B": ItemStatus.ONLY_A,
    }
    (difference,) = by_name["changed"].differences
    assert difference.startswith("disk.img: SHA1 ")  # the checksum, since the sizes agree
    assert not result.identical
    # a file only on one side and a size are named too
    put_item(b, sim_service_b.default_library_id, "Tools", {"b.sh": b"echo bb\n",
                                                           "c.sh": b"c"})  # fmt: skip
    again = compare_libraries(a, sim_service.default_library_id, b,
                              sim_service_b.default_library_id)  # fmt: skip
    tools = next(i for i in again.items if i.name == "Tools")
    assert tools.status is ItemStatus.CHANGED
    assert tools.differences == ("only in B: c.sh", "b.sh: size 7 / 8")


def test_cli_compare_exit_codes_then_sync_and_compare_again(
    sim_service: Any, sim_service_b: Any
) -> None:
    _, b = seed(sim_service, sim_service_b)
    url_a, url_b = sim_service.base_url, sim_service_b.base_url
    env = {"CL_TO_PASSWORD": "secret"}
    text = cli(url_a, "compare", "Local library", "--to-server", url_b, "Local library",
               extra_env=env)  # fmt: skip
    assert text.returncode == EXIT_DIFFERENT, text.stderr
    assert "! changed  (changed): disk.img: SHA1" in text.stdout
    assert "< missing in B  (only in A)" in text.stdout
    assert "= same  (same)" in text.stdout
    assert "1 only in A, 0 only in B, 2 same, 1 changed" in text.stdout
    as_json = cli(url_a, "--json", "compare", "Local library", "--to-server", url_b,
                  "Local library", extra_env=env)  # fmt: skip
    assert as_json.returncode == EXIT_DIFFERENT
    report = json.loads(as_json.stdout)
    assert report["identical"] is False
    statuses = {i["name"]: i["status"] for i in report["items"]}
    assert statuses["missing in B"] == "only in A" and statuses["changed"] == "changed"

    # the destination's password is CL_TO_PASSWORD's, not CL_PASSWORD's
    wrong = cli(url_a, "compare", "Local library", "--to-server", url_b, "Local library",
                extra_env={"CL_TO_PASSWORD": "wrong"})  # fmt: skip
    assert wrong.returncode == 3, wrong.stderr

    # sync B from A (by upload: what copy would do), then nothing differs
    lib_b = sim_service_b.default_library_id
    for item in report["items"]:
        if item["status"] in ("only in A", "changed"):
            put_item(b, lib_b, item["name"], A_ITEMS[item["name"]])
    same = cli(url_a, "compare", "Local library", "--to-server", url_b, "Local library",
               extra_env=env)  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr
    assert "the libraries hold the same items" in same.stdout


def test_cli_compare_two_libraries_of_one_server(sim_service: Any) -> None:
    client = ContentLibraryClient(sim_service.base_url, "admin", "secret")
    datastore = client.datastores.list()[0].datastore
    other = client.libraries.create_local("Other", datastore)
    put_item(client, other, "only here", {"f.txt": b"f"})
    result = cli(sim_service.base_url, "compare", "Local library", "Other")
    assert result.returncode == EXIT_DIFFERENT, result.stderr
    assert "> only here  (only in B)" in result.stdout
    # --to-user alone: the same server as another user (--to-server defaults to --server)
    reader = cli(sim_service.base_url, "--json", "compare", "Local library", "Other",
                 "--to-user", SIM_READONLY_USER,
                 extra_env={"CL_TO_PASSWORD": "secret"})  # fmt: skip
    assert reader.returncode == EXIT_DIFFERENT, reader.stderr
    sides = json.loads(reader.stdout)
    assert (sides["a"]["user"], sides["b"]["user"]) == ("admin", SIM_READONLY_USER)
    assert sides["b"]["server"] == sides["a"]["server"]
