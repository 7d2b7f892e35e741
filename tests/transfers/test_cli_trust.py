"""`cl-transfer trust` and `untrust`: pinning a certificate from the command line, never blind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme

from cl_desktop.api.transport import origin
from cl_desktop.credentials import trust
from tests.support.cli import cli
from tests.support.tls import ServedCert, issue_cert, swap_certificate, tls_simulator


def _colons(sha: str) -> str:
    return ":".join(sha[i : i + 2] for i in range(0, len(sha), 2)).upper()


def trust_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """cl-transfer without --user (trusting is about the server, not an account)."""
    return subprocess.run(
        [sys.executable, "-m", "cl_desktop.cli", "--server", url, *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _pin_of(url: str) -> str | None:
    _, host, port = origin(url)
    assert host and port
    pin = trust.pin_for(host, port)
    return pin.sha256 if pin else None


def test_trust_shows_the_certificate_and_pins_only_the_fingerprint_given(
    tls_sim: tuple[Any, ServedCert],
) -> None:
    service, served = tls_sim
    url = service.base_url
    assert cli(url, "libraries").returncode == 5  # untrusted to begin with

    blind = trust_cli(url, "trust")  # no terminal to ask on, no fingerprint given
    assert blind.returncode == 2, blind.stderr
    assert _colons(served.sha256) in blind.stderr and _colons(served.sha1) in blind.stderr
    assert "--sha256" in blind.stderr and "Traceback" not in blind.stderr
    assert _pin_of(url) is None

    wrong = trust_cli(url, "trust", "--sha256", "ab" * 32)
    assert wrong.returncode == 5 and "nothing was pinned" in wrong.stderr
    assert _pin_of(url) is None

    made = trust_cli(url, "trust", "--sha256", _colons(served.sha256))
    assert made.returncode == 0, made.stderr
    assert _pin_of(url) == served.sha256  # the store the window reads
    assert cli(url, "libraries").returncode == 0  # no --ca-file, no --pin-sha256

    again = trust_cli(url, "--json", "trust")
    assert again.returncode == 0, again.stderr
    answer = json.loads(again.stdout)
    assert answer["trusted"] is True and answer["sha256"] == served.sha256
    assert answer["sha1"] == served.sha1 and "127.0.0.1" in answer["names"]

    forgot = trust_cli(url, "untrust")
    assert forgot.returncode == 0 and "forgot" in forgot.stdout
    assert _pin_of(url) is None and cli(url, "libraries").returncode == 5


def test_a_changed_certificate_is_replaced_only_on_request(
    tls_sim: tuple[Any, ServedCert], tmp_path: Path
) -> None:
    service, served = tls_sim
    url = service.base_url
    assert trust_cli(url, "trust", "--sha256", served.sha256).returncode == 0
    renewed = issue_cert(trustme.CA(), tmp_path / "renewed")
    swap_certificate(service, renewed)

    refused = trust_cli(url, "trust", "--sha256", renewed.sha256)
    assert refused.returncode == 5, refused.stderr
    assert "Certificate changed" in refused.stderr
    assert _colons(served.sha256) in refused.stderr and _colons(renewed.sha256) in refused.stderr
    assert _pin_of(url) == served.sha256

    replaced = trust_cli(url, "trust", "--replace", "--sha256", renewed.sha256)
    assert replaced.returncode == 0, replaced.stderr
    assert _pin_of(url) == renewed.sha256
    assert cli(url, "libraries").returncode == 0


def test_an_expired_certificate_is_named_and_never_pinned(tmp_path: Path) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    expired = issue_cert(
        trustme.CA(), tmp_path / "old", not_before=long_ago, not_after=long_ago + timedelta(days=30)
    )
    with tls_simulator(tmp_path / "sim", expired) as service:
        url = service.base_url
        answer = trust_cli(url, "trust", "--sha256", expired.sha256)
    assert answer.returncode == 5, answer.stderr
    assert "expired" in answer.stderr and "not pinned" in answer.stderr
    assert _pin_of(url) is None


def test_account_commands_still_need_a_user(sim_service: Any) -> None:
    answer = trust_cli(sim_service.base_url, "libraries")
    assert answer.returncode == 2 and "libraries needs --user" in answer.stderr
    plain = trust_cli(sim_service.base_url, "trust")
    assert plain.returncode == 2 and "https" in plain.stderr  # nothing to pin on http
