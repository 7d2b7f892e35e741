"""Demo mode: the embedded Content Library service, persisted and seeded once with samples."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import tempfile
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cl_desktop.api import AddSpec, ChecksumAlgorithm, ChecksumInfo, ContentLibraryClient
from cl_desktop.simulator import ContentLibraryService, SimulatorConfig
from cl_desktop.transfers.naming import infer_item_type

log = logging.getLogger(__name__)

DEMO_USER = "administrator@vsphere.local"
# Not a secret: the demo server listens on 127.0.0.1 only and holds generated sample files.
DEMO_PASSWORD = "demo"
DEMO_LIBRARY = "Demo library"
PORT_FILE = "port"  # the last port, reused so that persisted jobs keep a valid server URL


SAMPLES_DIR = "samples"  # under the demo's data dir, served over http for Import from URL
SAMPLE_TO_IMPORT = "demo-tools.iso"  # what the Import from URL dialog offers in demo mode


@dataclass
class DemoServer:
    service: ContentLibraryService
    url: str
    username: str = DEMO_USER
    password: str = DEMO_PASSWORD
    samples_url: str = ""  # "http://127.0.0.1:PORT/": the samples folder, to import from
    samples_server: ThreadingHTTPServer | None = None

    @property
    def import_hint(self) -> str:
        return self.samples_url + SAMPLE_TO_IMPORT if self.samples_url else ""

    def stop(self) -> None:
        if self.samples_server is not None:
            self.samples_server.shutdown()
            self.samples_server.server_close()
            self.samples_server = None
        self.service.stop()


def samples_dir(data_dir: Path) -> Path:
    """The demo's samples folder (created, with the sample files, when missing): what the demo
    serves over http so that Import from URL has something to import."""
    folder = data_dir / SAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / SAMPLE_TO_IMPORT).exists():
        write_samples(folder)
    return folder


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("samples: " + format, *args)


def serve_samples(folder: Path) -> ThreadingHTTPServer:
    """`folder` over plain http on 127.0.0.1 (a free port), in a daemon thread."""
    handler = functools.partial(_QuietFiles, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-samples", daemon=True).start()
    return server


def start_demo_server(data_dir: Path) -> DemoServer:
    """Start the embedded service on 127.0.0.1 with its data in `data_dir`; seed it once.

    Blocks for the seeding (well under a second): call it from a background task.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / PORT_FILE
    port = 0
    with contextlib.suppress(OSError, ValueError):
        port = int(port_file.read_text().strip())
    service = _start(data_dir, port)
    if service is None:
        service = _start(data_dir, 0)
        assert service is not None
    try:
        port_file.write_text(f"{service.port}\n")
        seed(service.base_url, DEMO_USER, DEMO_PASSWORD, service.datastore_id)
        samples = serve_samples(samples_dir(data_dir))
    except BaseException:
        service.stop()
        raise
    samples_url = f"http://127.0.0.1:{samples.server_address[1]}/"
    return DemoServer(service, service.base_url, samples_url=samples_url, samples_server=samples)


def _start(data_dir: Path, port: int) -> ContentLibraryService | None:
    config = SimulatorConfig(
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        users={DEMO_USER: DEMO_PASSWORD},
        control_api=False,
    )
    try:
        return ContentLibraryService(config).start()
    except OSError as exc:
        if port == 0:
            raise
        log.info("demo port %d is taken (%s); picking another", port, exc)
        return None


# --- sample content ------------------------------------------------------------------------


def _iso_bytes(size: int = 2 << 20) -> bytes:
    """An ISO 9660-shaped image: empty system area, then a primary volume descriptor."""
    pvd = bytearray(2048)
    pvd[0:6] = b"\x01CD001"
    pvd[6] = 1
    pvd[40:72] = b"CL_DESKTOP_DEMO".ljust(32)
    body = bytes(32768) + bytes(pvd) + b"\xff\x43\x44\x30\x30\x31\x01" + bytes(2041)
    pattern = b"cl_desktop demo ISO content\n" * 64
    filler = (pattern * (size // len(pattern) + 1))[: max(0, size - len(body))]
    return body + filler


_OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-0" xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>
    <File ovf:href="{disk}" ovf:id="file1" ovf:size="{size}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="64" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1"
        ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network"><Description>The VM Network network</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="{name}">
    <Info>A virtual machine</Info>
    <Name>{name}</Name>
    <OperatingSystemSection ovf:id="101">
      <Info>The kind of installed guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>1 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>512MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>512</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""

_PS1 = """# Configure an ESXi host's NTP servers (cl_desktop demo script).
param([Parameter(Mandatory)][string]$VMHost, [string[]]$NtpServers = @("192.0.2.10"))
Get-VMHost $VMHost | Add-VMHostNtpServer -NtpServer $NtpServers
Get-VMHost $VMHost | Get-VMHostService | Where-Object Key -eq "ntpd" | Start-VMHostService
"""

_SH = """#!/bin/sh
# First-boot script for a Linux guest (cl_desktop demo script).
set -eu
hostnamectl set-hostname "${1:-demo-guest}"
echo "configured $(hostname) at $(date -u +%FT%TZ)"
"""


def write_samples(folder: Path) -> dict[str, list[Path]]:
    """The sample items' files under `folder`: {item name: [paths in upload order]}."""
    iso = folder / "demo-tools.iso"
    iso.write_bytes(_iso_bytes())
    disk = folder / "demo-vm-disk1.vmdk"
    disk.write_bytes(b"KDMV" + bytes(508) + b"cl_desktop demo disk\n" * 200_000)
    ovf = folder / "demo-vm.ovf"
    ovf.write_text(_OVF.format(disk=disk.name, size=disk.stat().st_size, name="demo-vm"))
    mf = folder / "demo-vm.mf"
    mf.write_text(
        "".join(
            f"SHA256({p.name})= {hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in (ovf, disk)
        )
    )
    scripts = folder / "scripts"
    scripts.mkdir(exist_ok=True)
    ps1 = scripts / "configure-ntp.ps1"
    ps1.write_text(_PS1)
    sh = scripts / "first-boot.sh"
    sh.write_text(_SH)
    return {"demo-tools": [iso], "demo-vm": [mf, ovf, disk], "scripts": [ps1, sh]}


def seed(url: str, user: str, password: str, datastore_id: str) -> bool:
    """Create the demo library and any missing sample item; True if anything was added."""
    with ContentLibraryClient(url, user, password) as client:
        found = client.libraries.find(name=DEMO_LIBRARY)
        added = False
        if found:
            library_id = found[0]
        else:
            library_id = client.libraries.create_local(
                DEMO_LIBRARY, datastore_id, description="Sample items for trying cl_desktop"
            )
            added = True
        existing = {m.name for m in client.items.list_models(library_id)}
        wanted = {"demo-tools", "demo-vm", "scripts"} - existing
        if not wanted:
            return added
        with tempfile.TemporaryDirectory(prefix="cl-desktop-demo-") as tmp:
            samples = write_samples(Path(tmp))
            for name in sorted(wanted):
                paths = samples[name]
                item_type = infer_item_type(paths[1].name if name == "demo-vm" else paths[0].name)
                _upload_item(client, library_id, name, item_type, paths)
        log.info("seeded the demo library with %s", ", ".join(sorted(wanted)))
        return True


def _upload_item(
    client: ContentLibraryClient, library_id: str, name: str, item_type: str, paths: list[Path]
) -> None:
    description = {
        "iso": "A small generated ISO image",
        "ovf": "An OVF template: descriptor, disk and SHA256 manifest",
    }.get(item_type, "PowerShell and shell scripts")
    item_id = client.items.create(library_id, name, type=item_type, description=description)
    session_id = client.update_sessions.create(item_id)
    try:
        for path in paths:
            data = path.read_bytes()
            checksum = ChecksumInfo(hashlib.sha1(data).hexdigest(), ChecksumAlgorithm.SHA1)
            info = client.update_session_files.add(
                session_id, AddSpec(path.name, size=len(data), checksum_info=checksum)
            )
            assert info.upload_endpoint is not None, "the server gave no upload endpoint"
            with path.open("rb") as source:
                client.upload(info.upload_endpoint.uri, source, len(data))
        client.update_sessions.complete(session_id)
    except BaseException:
        with contextlib.suppress(Exception):
            client.update_sessions.cancel(session_id)
        raise
    finally:
        with contextlib.suppress(Exception):
            client.update_sessions.delete(session_id)
