"""Regenerate docs/screenshots/connect-dialog.png and trust-dialog.png: the connection dialog
with saved connections (the last used one preselected) and the trust question for a vCenter's
own certificate, as the window shows them.

    .venv/bin/python scripts/screenshot_dialogs.py [--folder DIR]

Runs offscreen on a throwaway data dir; the certificate is made on the spot (trustme) for a
made-up vCenter name.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the tests' in-memory keyring: the user's own is not touched
    sys.path.insert(0, str(ROOT))
FOLDER = ROOT / "docs" / "screenshots"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=FOLDER)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cl-desktop-dialogs-") as tmp:
        os.environ["CL_DESKTOP_DATA_DIR"] = tmp  # profiles and pins of this run only
        return _shoot(args.folder, Path(tmp))


def _shoot(folder: Path, work: Path) -> int:
    import keyring
    import trustme
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication, QWidget

    from cl_desktop.app import AppConfig, Application
    from cl_desktop.credentials import profiles
    from cl_desktop.credentials.certificates import CertificateDetails
    from cl_desktop.credentials.profiles import Profile
    from cl_desktop.ui.connect_dialog import ConnectDialog
    from cl_desktop.ui.dialogs import Prompts
    from cl_desktop.ui.trust_dialog import TrustDialog
    from tests.support.accounts import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())

    qt_app = QApplication(sys.argv[:1])
    qt_app.setApplicationDisplayName("cl_desktop")
    profiles.save(Profile("Production", "vcsa01.lab.local", "administrator@vsphere.local",
                          remember_password=True, connect_on_start=True))  # fmt: skip
    profiles.save(Profile("Test lab", "vcsa-test.lab.local:8443", "ops@vsphere.local", "rest"))
    profiles.add_recent("vcsa-test.lab.local:8443", "ops@vsphere.local")
    profiles.add_recent("vcsa01.lab.local", "administrator@vsphere.local")
    profiles.set_last_used("Production")
    app = Application(AppConfig(data_dir=work / "data"), prompts=Prompts(ask_login=lambda *_: None))
    app.window.show()

    def save(widget: QWidget, name: str) -> None:
        widget.show()
        widget.adjustSize()
        QCoreApplication.processEvents()
        path = folder / name
        folder.mkdir(parents=True, exist_ok=True)
        if not widget.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        print(f"wrote {path} ({widget.width()}x{widget.height()})")
        widget.close()

    connect = ConnectDialog(app.window, None, None, app.connections)
    connect.password.setText("not-shown-anyway")
    save(connect, "connect-dialog.png")

    ca = trustme.CA(organization_name="VMware Engineering", organization_unit_name="VMCA")
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=90)
    leaf = ca.issue_cert("vcsa01.lab.local", "10.0.0.21", common_name="vcsa01.lab.local",
                         not_before=issued, not_after=issued + timedelta(days=730))  # fmt: skip
    details = CertificateDetails.from_pem(leaf.cert_chain_pems[0].bytes())
    trust = TrustDialog(app.window, "vcsa01.lab.local", details)
    save(trust, "trust-dialog.png")
    app.shutdown()
    app.window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
