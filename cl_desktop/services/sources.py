"""Import from URL, for the window: the job a URL becomes, and reading an https source's
certificate (off the GUI thread, through BackgroundTasks) so the user can accept it first."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from cl_desktop.credentials.certificates import CertificateDetails, read_certificate
from cl_desktop.transfers.jobs import Direction, JobSpec, ServerRef
from cl_desktop.transfers.naming import item_name_for


def source_file_name(url: str) -> str:
    """The file an URL names ("" when its path ends in a folder)."""
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return ""
    return "" if path.endswith("/") else unquote(PurePosixPath(path).name)


def suggested_item_name(url: str) -> str:
    """A new item's name for a URL: its file's stem for an ISO or a template, else the name."""
    name = source_file_name(url)
    return item_name_for(name) if name else ""


def needs_certificate(url: str) -> bool:
    return url.strip().lower().startswith("https://")


def read_source_certificate(url: str) -> CertificateDetails:
    """The certificate an https source presents (blocking: run it in the background)."""
    return read_certificate(url.strip())


def import_spec(
    server: ServerRef,
    library_id: str,
    url: str,
    *,
    item_id: str | None = None,
    item_name: str = "",
    thumbprint: str = "",
) -> JobSpec:
    """The job of an import: into `item_id`, or a new item `item_name` (a free name is picked
    if it is taken by then)."""
    return JobSpec(
        direction=Direction.UPLOAD,
        server=server,
        library_id=library_id,
        item_id=item_id,
        item_name=item_name,
        unique_name=item_id is None,
        source_url=url.strip(),
        source_thumbprint=thumbprint,
    )
