"""OVF templates as the tests write them: a descriptor, its disks and (optionally) a manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.support.files import make_file

# References order on purpose differs from the names' order: the .ova must follow References
DISKS = (("demo-vm-disk2.vmdk", 150_000), ("demo-vm-disk1.vmdk", 210_003))


def make_template(
    folder: Path,
    name: str = "demo-vm",
    disks: tuple[tuple[str, int], ...] = DISKS,
    manifest: bool = True,
) -> Path:
    """Write `folder/NAME.ovf` referencing `disks` ((file name, size), in References order),
    the disks themselves and, with `manifest`, `NAME.mf` (SHA256 lines); the descriptor's
    path."""
    folder.mkdir(parents=True, exist_ok=True)
    refs = ""
    for number, (disk, size) in enumerate(disks, 1):
        make_file(folder / disk, size, seed=10 + number)
        refs += f'<File ovf:href="{disk}" ovf:id="file{number}" ovf:size="{size}"/>'
    descriptor = folder / f"{name}.ovf"
    descriptor.write_text(
        '<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" '
        'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">'
        f"<References>{refs}</References>"
        f'<VirtualSystem ovf:id="{name}"/></Envelope>\n'
    )
    if manifest:
        lines = [
            f"SHA256({p.name})= {hashlib.sha256(p.read_bytes()).hexdigest()}\n"
            for p in (descriptor, *(folder / d for d, _ in disks))
        ]
        (folder / f"{name}.mf").write_text("".join(lines))
    return descriptor


def template_files(descriptor: Path) -> dict[str, bytes]:
    """{name: bytes} of the descriptor and the disks it references (the manifest aside)."""
    folder = descriptor.parent
    return {
        p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".ovf", ".vmdk")
    }
