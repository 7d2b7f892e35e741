"""A common description of "a server under test"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Dialect = Literal["api", "rest"]
Kind = Literal["simulator", "vcsim"]


@dataclass(frozen=True)
class ServerTarget:
    """Where a Content Library server listens and how a client should talk to it.

    ``base_url`` is ``scheme://127.0.0.1:PORT`` without a trailing slash.
    ``dialect`` is the API flavour the client should use: ``"api"`` (7.0U2+ ``/api/...``)
    or ``"rest"`` (``/rest/com/vmware/...`` with ``{"value": ...}`` wrapping).
    ``ca_file`` is the PEM file to verify TLS with, or None for plain HTTP.
    ``datastore_id`` is a value accepted in a library's ``storage_backings``, if known.
    ``service`` is the in-process ``ContentLibraryService`` (simulator targets only).
    """

    name: str
    base_url: str
    username: str
    password: str
    ca_file: str | None
    dialect: Dialect
    datastore_id: str | None
    kind: Kind
    service: Any = field(default=None, compare=False, repr=False)

    @property
    def verify(self) -> str | bool:
        """The value for ``requests``' ``verify=``: the CA file, or True for plain HTTP."""
        return self.ca_file if self.ca_file is not None else True
