"""Demo mode: the embedded Content Library service, persisted and seeded once with samples."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import os
import tarfile
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


SIGNED_SAMPLE = "signed-appliance"  # a signed OVF template to upload: its warning dialog
SAMPLES_DIR = "samples"  # under the demo's data dir, served over http for Import from URL
SAMPLE_TO_IMPORT = "demo-tools.iso"  # what the Import from URL dialog offers in demo mode


@dataclass
class DemoServer:
    service: ContentLibraryService
    url: str
    username: str = DEMO_USER
    password: str = DEMO_PASSWORD
    samples: Path | None = None  # the sample files to drop or import (samples_dir)
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
        samples = write_samples_folder(data_dir)
        served = serve_samples(samples)
    except BaseException:
        service.stop()
        raise
    log.info("demo sample files to drop: %s", samples)
    samples_url = f"http://127.0.0.1:{served.server_address[1]}/"
    return DemoServer(
        service, service.base_url, samples=samples, samples_url=samples_url, samples_server=served
    )


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
{references}
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
{disks}
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
{disk_items}
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""

_REFERENCE = '    <File ovf:href="{href}" ovf:id="file{n}" ovf:size="{size}"/>'
_DISK = """    <Disk ovf:capacity="64" ovf:capacityAllocationUnits="byte * 2^20"
        ovf:diskId="vmdisk{n}" ovf:fileRef="file{n}" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>"""
_DISK_ITEM = """      <Item>
        <rasd:AddressOnParent>{address}</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk {n}</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk{n}</rasd:HostResource>
        <rasd:InstanceID>{instance}</rasd:InstanceID>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>"""


def ovf_descriptor(name: str, disks: list[tuple[str, int]]) -> str:
    """A small OVF descriptor of a VM `name` whose disks are the files (name, size) `disks`."""
    numbered = list(enumerate(disks, 1))
    return _OVF.format(
        name=name,
        references="\n".join(_REFERENCE.format(href=h, n=n, size=z) for n, (h, z) in numbered),
        disks="\n".join(_DISK.format(n=n) for n, _ in numbered),
        disk_items="\n".join(
            _DISK_ITEM.format(n=n, address=n - 1, instance=n + 2) for n, _ in numbered
        ),
    )


def write_ova(path: Path, members: list[tuple[str, bytes | Path]]) -> Path:
    """An .ova at `path` holding `members` (name, bytes or a file to copy), in that order."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = 0o644, 1_700_000_000
            if isinstance(content, Path):
                info.size = content.stat().st_size
                with content.open("rb") as source:
                    tar.addfile(info, source)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def manifest_text(members: list[tuple[str, bytes]], algorithm: str = "SHA256") -> str:
    return "".join(
        f"{algorithm}({name})= {hashlib.new(algorithm.lower(), data).hexdigest()}\n"
        for name, data in members
    )


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
    ovf.write_text(ovf_descriptor("demo-vm", [(disk.name, disk.stat().st_size)]))
    mf = folder / "demo-vm.mf"
    mf.write_text(manifest_text([(p.name, p.read_bytes()) for p in (ovf, disk)]))
    scripts = folder / "scripts"
    scripts.mkdir(exist_ok=True)
    ps1 = scripts / "configure-ntp.ps1"
    ps1.write_text(_PS1)
    sh = scripts / "first-boot.sh"
    sh.write_text(_SH)
    return {"demo-tools": [iso], "demo-vm": [mf, ovf, disk], "scripts": [ps1, sh]}


SAMPLE_OVA = "demo-appliance.ova"


def samples_dir(data_dir: Path) -> Path:
    """The folder of sample files a demo user can drop into the window (or serve to import
    from a URL): `<demo data>/samples`."""
    return data_dir / SAMPLES_DIR


def write_sample_ova(path: Path) -> Path:
    """An OVF template in one archive as the specification orders it: descriptor, manifest,
    then two small disks."""
    disks = [
        (
            f"demo-appliance-disk{n}.vmdk",
            b"KDMV" + bytes(508) + f"appliance disk {n}\n".encode() * k,
        )
        for n, k in ((1, 40_000), (2, 25_000))
    ]
    descriptor = ovf_descriptor("demo-appliance", [(name, len(data)) for name, data in disks])
    members: list[tuple[str, bytes]] = [("demo-appliance.ovf", descriptor.encode()), *disks]
    manifest = ("demo-appliance.mf", manifest_text(members).encode())
    return write_ova(path, [members[0], manifest, *members[1:]])


def write_samples_folder(data_dir: Path) -> Path:
    """The samples folder, each sample written once: the seeded items' files (served over
    http for Import from URL), a sample .ova (a finished file only) and a signed template."""
    folder = samples_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / SAMPLE_TO_IMPORT).exists():
        write_samples(folder)
    write_signed_sample(folder / SIGNED_SAMPLE)
    ova = folder / SAMPLE_OVA
    if not ova.exists():
        partial = write_sample_ova(folder / f".{SAMPLE_OVA}.part")
        os.replace(partial, ova)
    return folder


def write_signed_sample(folder: Path) -> Path:
    """A signed OVF template under `folder` (once: later starts reuse it): descriptor, disk,
    SHA256 manifest and a .cert with the manifest's signature and a self-signed certificate,
    so uploading it shows the window's question about the signature's warnings."""
    ovf = folder / f"{SIGNED_SAMPLE}.ovf"
    cert_file = ovf.with_suffix(".cert")
    if cert_file.is_file():
        return ovf
    # imported here: only the first start writes the sample, and cryptography loads slowly
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    disk = folder / f"{SIGNED_SAMPLE}-disk1.vmdk"
    disk.write_bytes(b"KDMV" + bytes(508) + b"cl_desktop signed demo disk\n" * 40_000)
    ovf.write_text(ovf_descriptor(SIGNED_SAMPLE, [(disk.name, disk.stat().st_size)]))
    manifest = ovf.with_suffix(".mf")
    manifest.write_text(
        "".join(
            f"SHA256({p.name})= {hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in (ovf, disk)
        )
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cl_desktop demo appliances"),
            x509.NameAttribute(NameOID.COMMON_NAME, "cl_desktop demo signer"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)  # self-signed: what the warning is about
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    signature = key.sign(manifest.read_bytes(), ec.ECDSA(hashes.SHA256())).hex()
    cert_file.write_bytes(
        f"SHA256({manifest.name})= {signature}\n".encode()
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    log.info("wrote a signed OVF template to try uploading: %s", ovf)
    return ovf


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
