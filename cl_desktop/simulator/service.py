"""ContentLibraryService: binds the HTTP server and runs it in background threads."""

from __future__ import annotations

import logging
import shutil
import ssl
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from .backend import Backend
from .config import SimulatorConfig
from .faults import Faults
from .handler import SimServer
from .models import DATASTORE_ID

log = logging.getLogger(__name__)


class ContentLibraryService:
    """The embedded vSphere Content Library REST service (``/api`` and ``/rest``).

    ``start()`` binds and serves in a background thread; ``stop()`` closes the
    listener and every open connection.  Also a context manager.
    """

    datastore_id = DATASTORE_ID

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self.config.validate()
        self._temp_dir: Path | None = None
        if self.config.data_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="cl-simulator-"))
        self.data_dir: Path = Path(self.config.data_dir or self._temp_dir or "")
        self.backend = Backend(self.config, self.data_dir)
        self.faults: Faults = self.backend.faults
        self._server: SimServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def default_library_id(self) -> str:
        """Id of the library "Local library" that a fresh data dir starts with."""
        return self.backend.store.default_library_id

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the service is not started")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """``http(s)://host:port`` of the running service, without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the service is not started")
        host = self.config.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self._server.tls else "http"
        return f"{scheme}://{host}:{self._server.server_port}"

    def set_password(self, user: str, password: str) -> None:
        """Change a user's password on the server (logins already made stay valid)."""
        self.backend.set_password(user, password)

    def login_counts(self, user: str) -> dict[str, int]:
        """{"accepted": n, "refused": n}: the logins of `user` the service has seen."""
        with self.backend.lock:
            return dict(self.backend.login_counts.get(user, {"accepted": 0, "refused": 0}))

    @property
    def connection_count(self) -> int:
        """Client connections open now (each has a thread); 0 when not started."""
        return 0 if self._server is None else self._server.connection_count

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.config.tls_cert is None or self.config.tls_key is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.config.tls_cert), str(self.config.tls_key))
        return ctx

    def start(self) -> ContentLibraryService:
        if self._server is not None:
            raise RuntimeError("the service is already started")
        self._stopping.clear()
        self._server = SimServer(self.config, self.backend, self._tls_context())
        serve = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="cl-simulator-http",
            daemon=True,
        )
        reaper = threading.Thread(target=self._reap_loop, name="cl-simulator-reaper", daemon=True)
        watchdog = threading.Thread(
            target=self._server.watch_headers, name="cl-simulator-watchdog", daemon=True
        )
        self._threads = [serve, reaper, watchdog]
        for t in self._threads:
            t.start()
        log.info("Content Library simulator serving %s", self.base_url)
        return self

    def _reap_loop(self) -> None:
        # Expire idle sessions even when no request comes in, so their content is discarded.
        interval = max(
            0.01, min(1.0, self.config.session_timeout / 4, self.config.login_timeout / 4)
        )
        while not self._stopping.wait(interval):
            try:
                self.backend.reap()
            except Exception:
                log.exception("reaper failed")

    def stop(self) -> None:
        server, self._server = self._server, None
        self._stopping.set()
        if server is not None:
            server.stopping.set()  # releases stalled transfers and the watchdog
            server.shutdown()
            server.close_connections()
            server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []
        self.backend.close()
        if self._temp_dir is not None and server is not None:
            self.backend.store.close()
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> ContentLibraryService:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
