"""Embedded vSphere Content Library REST service (a vCenter stand-in for tests and demos).

Serves both wire dialects at once:

- ``/api/...`` (vSphere 7.0U2+): bare JSON values, 201 on create, 204 on void,
  ``?action=``, ``Client-Token`` header, ``{"error_type", "messages"}`` errors;
- ``/rest/com/vmware/...`` (6.5-7.0U1): ``{"value": ...}``, ``id:`` path prefixes,
  ``?~action=``, 200 everywhere, ``{"type", "value"}`` errors.

Sessions, libraries, items, files, storage, UpdateSession/DownloadSession and
their files behave as the vSphere SDK documents them; uploads and downloads use
``{base}/cls/data/<token>/<name>`` (PUT / GET with Range).  Stdlib only.

Usage::

    from cl_desktop.simulator import ContentLibraryService, SimulatorConfig
    cfg = SimulatorConfig(port=0, data_dir=path, users={"admin": "secret"})
    with ContentLibraryService(cfg) as svc:
        svc.base_url, svc.default_library_id
        svc.faults.drop_after_bytes(1000, which="upload")

or ``python -m cl_desktop.simulator --port 8443 --user admin:secret``.

Fault injection (off by default)
--------------------------------
In-process through ``svc.faults``, or over HTTP when asked for (``control_api=True``,
``--control-api``; off by default) with ``POST /_sim/faults``, a login of a
read-write user (``vmware-api-session-id``) and a JSON object whose members each
arm one fault (``reset`` is applied first)::

    {"reset": true}                        disarm everything
    {"drop_after_bytes": 1000}             cut the next data PUT or GET after 1000 bytes
    {"drop_after_bytes": {"bytes": 1000, "which": "upload"}}    "upload" | "download" | "any"
    {"fail_next": 2}                       next 2 API calls answer 503 SERVICE_UNAVAILABLE
    {"fail_next": {"count": 1, "path": "update-session"}}   only paths containing this
    {"expire_session": "SESSION-ID"}       expire an update/download session now (404: unknown)
    {"expire_logins": true}                invalidate every login token now
    {"throttle": 10000000}                 limit each data transfer to N bytes/s (null: off)
    {"prepare_delay": 1.0}                 seconds per download prepare stage (null: default)
    {"corrupt_download": 0}                flip byte N of the file in the next data GET
    {"corrupt_upload": 0}                  flip byte N of the next data PUT body on receipt
    {"stall": {"after_bytes": 1000, "which": "download", "seconds": 60}}
                                           move N bytes, then nothing for S s, then close

The answer is ``{"faults": {...armed faults...}}``.  ``GET /_sim/faults`` shows
the armed faults and ``GET /_sim/state`` dumps libraries, items, update and
download sessions (with states and file statuses) and logins (user names only);
never a login token or a data URI (each carries its token).
"""

from .config import SimulatorConfig
from .faults import Faults
from .service import ContentLibraryService

__all__ = ["ContentLibraryService", "Faults", "SimulatorConfig"]
