"""Signed OVF templates for the tests: a descriptor, its disk, a SHA256 manifest and a .cert
holding the manifest's (dummy) signature and the signer's certificate."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import trustme

from tests.support.files import make_file


def self_signed_pem() -> bytes:
    """A self-signed certificate: a trustme root (issuer == subject)."""
    return trustme.CA(organization_name="Appliance Vendor").cert_pem.bytes()


def expired_pem(ca: trustme.CA, not_after: datetime) -> bytes:
    """A certificate issued by `ca` (untrusted unless the server trusts `ca`) ending then."""
    issued = ca.issue_cert("signer.example.com", common_name="Signer", not_after=not_after)
    return issued.cert_chain_pems[0].bytes()


def write_signed_template(
    folder: Path, cert_pem: bytes, name: str = "signed", disk_size: int = 300_000
) -> Path:
    """`name`.ovf, its disk, `name`.mf and `name`.cert under `folder`; the .ovf's path."""
    folder.mkdir(parents=True, exist_ok=True)
    disk = make_file(folder / f"{name}-disk1.vmdk", disk_size, seed=7)
    ovf = folder / f"{name}.ovf"
    ovf.write_text(
        '<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" '
        'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References>'
        f'<File ovf:href="{disk.name}" ovf:id="f1" ovf:size="{disk_size}"/>'
        "</References></Envelope>"
    )
    manifest = folder / f"{name}.mf"
    manifest.write_text(
        "".join(
            f"SHA256({p.name})= {hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in (ovf, disk)
        )
    )
    signature = hashlib.sha256(manifest.read_bytes()).hexdigest()  # not a real signature
    (folder / f"{name}.cert").write_bytes(
        f"SHA256({manifest.name})= {signature}\n".encode() + cert_pem
    )
    return ovf
