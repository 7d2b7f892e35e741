"""cl-transfer as the tests run it: a subprocess with the password in its environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.uploads import bytes_received, sessions_of
from tests.support.waiting import wait_until


def cli(target_url: str, *args: str, password: str = "secret", user: str = "admin",
        extra_env: dict[str, str] | None = None, ca_file: str | None = None,
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {**os.environ, "CL_PASSWORD": password, **(extra_env or {})}
    trust = ["--ca-file", ca_file] if ca_file else []
    return subprocess.run(
        [sys.executable, "-m", "cl_desktop.cli", "--server", target_url,
         "--user", user, *trust, *args],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def start_cli(url: str, db: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cl_desktop.cli", "--server", url, "--user", "admin",
         "--queue-db", db, *args],
        env={**os.environ, "CL_PASSWORD": "secret"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def start_throttled_upload(sim: Any, db: str, name: str, source: Path) -> tuple[
    subprocess.Popen[str], str
]:  # fmt: skip
    """`cl-transfer upload` in a process, slowed down; returns once its bytes arrive."""
    sim.faults.throttle(200_000)  # 8 MB: 40 s, time for the other commands on a loaded machine
    proc = start_cli(sim.base_url, db, "upload", f"Local library/{name}", str(source), "--create")
    try:
        session_id = wait_until(
            lambda: next((sid for sid in sessions_of(sim)
                          if bytes_received(sim, sid) > 100_000), None),
            60, "the upload moving bytes",
        )  # fmt: skip
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc, session_id


def cl_transfer(*args: str, password: str | None = "secret",
                extra_env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`cl-transfer` with exactly `args` (no --server or --user added), no terminal, and no
    keyring: the password is CL_PASSWORD, or none at all when `password` is None."""
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           **(extra_env or {})}  # fmt: skip
    env.pop("CL_PASSWORD", None)
    if password is not None:
        env["CL_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "cl_desktop.cli", *args],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
