"""Packaging: the Linux desktop files validate, the package ships its resources, and
`cl-desktop --version` / `--self-test` work from the source tree (the packaged binary runs the
same two in scripts/package.sh)."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from cl_desktop import __version__

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
DESKTOP_FILE = LINUX / "cl-desktop.desktop"
METAINFO = LINUX / "io.github.cl_desktop.ClDesktop.metainfo.xml"
RESOURCES = ROOT / "cl_desktop" / "resources"


def _tool(name: str, package: str) -> str:
    """The validator's path; in CI its absence fails (scripts/test.sh installs it)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install {package} (scripts/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def desktop_file_validate(path: Path) -> subprocess.CompletedProcess[str]:
    tool = _tool("desktop-file-validate", "desktop-file-utils")
    return subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)


def appstream_validate(path: Path) -> subprocess.CompletedProcess[str]:
    tool = _tool("appstreamcli", "appstream")
    return subprocess.run(
        [tool, "validate", "--no-net", "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_desktop_file_is_valid() -> None:
    result = desktop_file_validate(DESKTOP_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout + result.stderr  # warnings are printed, exit 0 anyway


def test_metainfo_is_valid_and_launches_the_desktop_file() -> None:
    result = appstream_validate(METAINFO)
    assert result.returncode == 0, result.stdout + result.stderr
    text = METAINFO.read_text()
    assert f'<launchable type="desktop-id">{DESKTOP_FILE.name}</launchable>' in text
    assert f'<release version="{__version__}"' in text  # a release entry for this version
    assert "<id>io.github.cl_desktop.ClDesktop</id>" in text  # the file is named after it


@pytest.mark.parametrize(
    ("validate", "source", "old", "new", "complaint"),
    [
        (
            desktop_file_validate,
            DESKTOP_FILE,
            "Categories=",
            "Categories=Transfers;",
            '"Transfers"',
        ),
        (appstream_validate, METAINFO, "<name>cl_desktop</name>", "", "component-name-missing"),
    ],
    ids=["desktop-file", "metainfo"],
)
def test_validation_fails_on_a_broken_copy(
    tmp_path: Path,
    validate: Callable[[Path], subprocess.CompletedProcess[str]],
    source: Path,
    old: str,
    new: str,
    complaint: str,
) -> None:
    broken = tmp_path / source.name
    text = source.read_text()
    assert text.count(old) == 1
    broken.write_text(text.replace(old, new))
    result = validate(broken)
    assert result.returncode != 0
    assert complaint in result.stdout + result.stderr


def test_every_resource_is_package_data() -> None:
    """A resource the globs miss would work from the checkout and be absent once installed."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["cl_desktop"]
    files = [p.relative_to(ROOT / "cl_desktop").as_posix() for p in RESOURCES.rglob("*")]
    files = [f for f in files if (ROOT / "cl_desktop" / f).is_file()]
    assert len(files) > 30  # the app icon, its PNGs and the action icons
    missed = [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert missed == []


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    env.pop("CL_DESKTOP_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )


def test_version_prints_the_version_without_importing_qt() -> None:
    result = _run("-X", "importtime", "-m", "cl_desktop", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"cl-desktop {__version__}\n"
    imported = result.stderr  # -X importtime lists every module imported
    assert re.search(r"\|\s+cl_desktop$", imported, re.MULTILINE)  # the list is complete
    assert "PySide6" not in imported


def test_self_test_passes_on_the_demo_service(tmp_path: Path) -> None:
    result = _run("-m", "cl_desktop", "--self-test", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout
    assert "Demo library" in result.stdout
    assert (tmp_path / "data" / "demo-server").is_dir()  # it ran where it was told


def test_self_test_fails_with_a_message(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo-server").write_text("a file where the demo service keeps its folder")
    result = _run("-m", "cl_desktop", "--self-test", "--data-dir", str(data))
    assert result.returncode == 1
    assert "self-test failed:" in result.stderr
    assert "demo-server" in result.stderr
    assert "Traceback" not in result.stderr


def test_self_test_gives_up_after_its_timeout(tmp_path: Path) -> None:
    # the timer is due before the demo service can have started (it starts on a thread)
    result = _run(
        "-m", "cl_desktop", "--self-test", "--self-test-timeout", "0", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 1
    assert "self-test failed: timed out after 0 s" in result.stderr
