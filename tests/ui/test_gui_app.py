"""Start-up: demo mode and its seeding, the command line, `python -m cl_desktop`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from pytestqt.qtbot import QtBot

from cl_desktop.__main__ import parse_args
from cl_desktop.api import ContentLibraryClient
from cl_desktop.credentials import profiles
from cl_desktop.demo import DEMO_LIBRARY, start_demo_server
from cl_desktop.transfers.ovf import parse_manifest
from tests.support.gui import FakePrompts, build_app, close_app

ROOT = Path(__file__).resolve().parents[2]


def test_demo_server_is_seeded_once_and_keeps_its_port(tmp_path: Path) -> None:
    demo = start_demo_server(tmp_path / "demo-server")
    try:
        with ContentLibraryClient(demo.url, demo.username, demo.password) as client:
            [library_id] = client.libraries.find(name=DEMO_LIBRARY)
            items = {m.name: m for m in client.items.list_models(library_id)}
            assert {name: m.type for name, m in items.items()} == {
                "demo-tools": "iso",
                "demo-vm": "ovf",
                "scripts": "file",
            }
            ovf_files = {f.name for f in client.item_files.list(items["demo-vm"].id or "")}
            assert ovf_files == {"demo-vm.ovf", "demo-vm-disk1.vmdk"}
            scripts = {f.name for f in client.item_files.list(items["scripts"].id or "")}
            assert scripts == {"configure-ntp.ps1", "first-boot.sh"}
        port = demo.service.port
    finally:
        demo.stop()
    # a sample .ova and a signed template to drop, written once, in the one samples folder
    samples = tmp_path / "demo-server" / "samples"
    assert demo.samples == samples
    assert {"demo-appliance.ova", "signed-appliance", "demo-tools.iso"} <= set(os.listdir(samples))
    written = (samples / "demo-appliance.ova").stat().st_mtime_ns
    with tarfile.open(samples / "demo-appliance.ova") as tar:
        assert tar.getnames() == [
            "demo-appliance.ovf",
            "demo-appliance.mf",
            "demo-appliance-disk1.vmdk",
            "demo-appliance-disk2.vmdk",
        ]
    again = start_demo_server(tmp_path / "demo-server")
    try:
        assert again.service.port == port  # persisted jobs keep a valid server URL
        assert (samples / "demo-appliance.ova").stat().st_mtime_ns == written
        with ContentLibraryClient(again.url, again.username, again.password) as client:
            assert len(client.libraries.find(name=DEMO_LIBRARY)) == 1
            [library_id] = client.libraries.find(name=DEMO_LIBRARY)
            assert len(client.items.list(library_id)) == 3  # not seeded twice
    finally:
        again.stop()


def test_demo_ovf_manifest_has_correct_sha256_lines(tmp_path: Path) -> None:
    from cl_desktop.demo import write_samples

    mf, ovf, disk = write_samples(tmp_path)["demo-vm"]
    manifest = parse_manifest(mf)
    assert manifest == {
        p.name: ("SHA256", hashlib.sha256(p.read_bytes()).hexdigest()) for p in (ovf, disk)
    }
    assert f'ovf:href="{disk.name}"' in ovf.read_text()


def test_demo_mode_opens_the_window_on_the_seeded_library(
    qtbot: QtBot, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    app = build_app(tmp_path, fake_prompts, demo=True)
    app.start()
    assert app.window.isVisible()
    qtbot.waitUntil(lambda: app.window.item_model.rowCount() == 3, timeout=15000)
    window = app.window
    assert window.current_library is not None and window.current_library.name == DEMO_LIBRARY
    assert (tmp_path / "app-data" / "demo-server" / "catalogue.sqlite").exists()
    assert fake_prompts.logins_asked == 0
    assert "127.0.0.1" in window.windowTitle()
    assert profiles.list_profiles() == [] and profiles.recent() == []  # a passing login
    close_app(app)


def test_command_line() -> None:
    args = parse_args(["--demo", "--data-dir", "/tmp/x", "--server", "vc", "--user", "me"])
    assert args.demo and args.data_dir == Path("/tmp/x")
    assert (args.server, args.user, args.parallel) == ("vc", "me", None)  # the preference's
    assert parse_args(["--parallel", "3"]).parallel == 3
    assert not parse_args([]).demo


def test_python_dash_m_is_the_cl_desktop_command() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "cl_desktop", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: cl-desktop")
    assert "--demo" in result.stdout and "--data-dir" in result.stdout
