"""`cl-transfer import-url`: the server pulls a loopback http(s) source; exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trustme

from cl_desktop.api import ContentLibraryClient
from tests.support.api import active_sessions
from tests.support.cli import cli
from tests.support.files import make_file
from tests.support.sources import serve_folder
from tests.support.tls import issue_cert


def _colons(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


def test_import_url_over_http_and_https(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    www = tmp_path / "www"
    www.mkdir()
    source = make_file(www / "tools.iso", 400_000)
    with serve_folder(www) as base:
        up = cli(url, "--queue-db", db, "--json", "import-url", "Local library/tools",
                 base + "tools.iso", "--create")  # fmt: skip
    assert up.returncode == 0, up.stderr
    (result,) = json.loads(up.stdout)
    assert result["state"] == "done" and result["verification"] == "verified"
    assert result["source_url"] == base + "tools.iso"

    served = issue_cert(trustme.CA(), tmp_path / "cert")
    with serve_folder(www, tls=served) as base:
        # not on a terminal and no --thumbprint: the certificate is shown, nothing is made
        asked = cli(url, "--queue-db", db, "import-url", "Local library/", base + "tools.iso",
                    "--create")  # fmt: skip
        assert asked.returncode == 2, asked.stderr
        assert "--thumbprint" in asked.stderr and _colons(served.sha1) in asked.stderr
        wrong = cli(url, "--queue-db", db, "import-url", "Local library/", base + "tools.iso",
                    "--create", "--thumbprint", "00" * 20)  # fmt: skip
        assert wrong.returncode == 1, wrong.stderr
        assert "does not match the thumbprint" in wrong.stdout + wrong.stderr
        good = cli(url, "--queue-db", db, "import-url", "Local library/", base + "tools.iso",
                   "--create", "--thumbprint", served.sha1)  # fmt: skip
        assert good.returncode == 0, good.stderr
    library = sim_service.default_library_id
    names = sorted(m.name or "" for m in sim_api_client.items.list_models(library))
    assert names == ["tools", "tools (2)"]  # LIBRARY/: named after the URL, made unique
    assert active_sessions(sim_api_client) == []

    missing = cli(url, "import-url", "Local library/nothing", "http://127.0.0.1:1/tools.iso")
    assert missing.returncode == 4 and "--create" in missing.stderr
    bad = cli(url, "import-url", "Local library/x", "ftp://127.0.0.1/x.iso", "--create")
    assert bad.returncode != 0 and "http or https" in bad.stdout + bad.stderr
    assert source.exists()
