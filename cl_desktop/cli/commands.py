"""The commands: each logs in (unless it works on the job store alone), acts, and reports."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from cl_desktop import paths
from cl_desktop.api import ContentLibraryError, errors
from cl_desktop.api.addresses import normalize_server
from cl_desktop.transfers.errors import describe
from cl_desktop.transfers.folders import folder_upload
from cl_desktop.transfers.jobs import (
    Direction,
    Existing,
    FailureKind,
    HistoryRecord,
    JobSnapshot,
    JobSpec,
    JobState,
    ServerRef,
)
from cl_desktop.transfers.naming import item_name_for
from cl_desktop.transfers.ownership import copy_job

from .destination import TO_PASSWORD, destination_login
from .errors import (
    EXIT_FAILED,
    EXIT_INTEGRITY,
    EXIT_INTERNAL,
    EXIT_OK,
    INTERNAL_ERROR,
    NoPassword,
    UsageError,
    exit_code_for,
)
from .output import job_line, job_summary, jsonable, note
from .parser import apply_preferences, retry_policy
from .passwords import password_for

# The client (requests, ssl), the queue (the whole engine), the job store (sqlite3) and the
# trust store (cryptography) are imported where a command first needs them: a command that
# never connects starts in a fraction of the time.
if TYPE_CHECKING:
    from cl_desktop.api import ContentLibraryClient, TlsSettings
    from cl_desktop.transfers.queue import TransferQueue
    from cl_desktop.transfers.store import JobStore

_DIALECTS: dict[str, Literal["auto", "api", "rest"]] = {"api": "api", "rest": "rest"}
# Commands on the job store: --server and --user only narrow them to one account, and the
# jobs they run log in as the account each job names.
_STORE_COMMANDS = frozenset({"jobs", "history", "resume", "retry", "remove"})
# Commands that never log in.
_OFFLINE_COMMANDS = frozenset({"jobs", "history", "trust", "untrust"})
# Commands about the server itself, not an account: no --user needed.
_NO_USER_COMMANDS = frozenset({"trust", "untrust"}) | _STORE_COMMANDS


class NoSuchJob(ContentLibraryError):
    title = "No such job"
    hint = "`cl-transfer jobs` lists the jobs."


class NoSuchFile(ContentLibraryError):
    """A --file the item does not have (exit 4, found before any job is made)."""

    title = "No such file"
    hint = "`cl-transfer files LIBRARY/ITEM` lists the item's files."


class NoSuchSession(ContentLibraryError):
    """`session ACTION ID` with an id the server has as neither kind of session (exit 4)."""

    title = "No such session"
    hint = "`cl-transfer sessions` lists the sessions of this user."


class NoSuchName(ContentLibraryError):
    """A library or item named on the command line that its server does not have (exit 4):
    a typo more likely than a deletion, so the hint says where the names are listed."""

    title = "Not found"

    def __init__(self, message: str, *, operation: str = "", lister: str = "") -> None:
        super().__init__(message, operation=operation)
        self.lister = lister

    @property
    def command_line_message(self) -> str:
        return self._with_hint(f"Check the name: `{self.lister}` lists them.")


class Cli:
    def __init__(self, args: argparse.Namespace) -> None:
        apply_preferences(args)  # --parallel, --limit, --keep-alive not given: the Settings'
        self.args = args
        if args.ca_file and not Path(args.ca_file).is_file():
            problem = "is not a file" if Path(args.ca_file).exists() else "no such file"
            raise UsageError(f"--ca-file {args.ca_file}: {problem}")
        if not args.server and args.command not in _STORE_COMMANDS:
            raise UsageError(f"{args.command} needs --server")
        if not args.user and args.command not in _NO_USER_COMMANDS:
            raise UsageError(f"{args.command} needs --user")
        if args.stall_seconds > args.stall_limit:
            raise UsageError("--stall-time must not be longer than --stall-limit")
        try:
            self.url = normalize_server(args.server) if args.server else ""
            if args.ca_file or args.pin_sha256:  # checked now: a bad one is a usage error
                self._tls_settings()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        # Only an explicit pin goes into the jobs' server: one from the trust store is looked
        # up again when a job connects, so re-trusting a renewed certificate applies to them.
        self.server = ServerRef(
            args.server or "", args.user or "", args.dialect, args.ca_file, args.pin_sha256
        )
        # the logged-in clients by (server URL, user): the command's own account, and those
        # the jobs of `resume`, `retry` and `remove` name
        self._clients: dict[tuple[str, str], ContentLibraryClient] = {}
        self._clients_lock = threading.Lock()
        # the accounts of --to-server/--to-user: their password is CL_TO_PASSWORD's
        self.destinations: set[tuple[str, str]] = set()
        self._store: JobStore | None = None
        self._queue_obj: TransferQueue | None = None

    def _other_accounts_of(self, jobs: list[JobSnapshot]) -> list[ServerRef]:
        """The accounts `jobs` write to besides their own: copies' targets and fan-out
        targets on other servers. Those no job of them logs in to as its own are
        destinations: they log in with CL_TO_PASSWORD, as copy and fanout did."""
        sources = {_account(j.spec.server) for j in jobs}
        others = [j.spec.target_server for j in jobs if j.spec.target_server is not None]
        others += [t.server for j in jobs for t in j.spec.fanout_targets]
        self.destinations.update(_account(r) for r in others if _account(r) not in sources)
        return others

    def _tls_settings(self) -> TlsSettings:
        from cl_desktop.api import TlsSettings

        return TlsSettings(ca_file=self.args.ca_file, pin_sha256=self.args.pin_sha256)

    @property
    def client(self) -> ContentLibraryClient:
        """The logged-in client of --server and --user (offline commands never log in)."""
        return self.client_for(self.server)

    def client_for(self, ref: ServerRef) -> ContentLibraryClient:
        """The logged-in client of an account, made at its first use (the queue's connector).

        Trust as the job says (--ca-file, --pin-sha256), else the pin the window trusted,
        read at first use: commands that never connect do not read the trust store."""
        key = (normalize_server(ref.url), ref.username)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                from cl_desktop.api import ContentLibraryClient, TlsSettings
                from cl_desktop.credentials import trust

                explicit = TlsSettings(ca_file=ref.ca_file, pin_sha256=ref.pin_sha256)
                client = ContentLibraryClient(
                    ref.url,
                    ref.username,
                    password_for(
                        ref.url,
                        ref.username,
                        TO_PASSWORD if key in self.destinations else "CL_PASSWORD",
                    ),
                    dialect=_DIALECTS.get(ref.dialect, "auto"),
                    tls=trust.tls_for(key[0], explicit),
                )
                self._clients[key] = client
            # a password refused when the login was renewed is not tried again (accounts
            # lock out): the client's calls fail at once instead
            if not client.logged_in and not client.password_refused:
                try:
                    client.login()
                except errors.TlsTrustError:
                    from cl_desktop.credentials import trust

                    if not (ref.ca_file or ref.pin_sha256):  # a pin from the trust store:
                        trust.check_server(key[0])  # a changed certificate says so
                    raise
            return client

    def close(self) -> None:
        """Stop the queue (its jobs end their server sessions), then end the login."""
        if self._queue_obj is not None:
            self._queue_obj.shutdown()
        for client in self._clients.values():
            client.close()
        if self._store is not None:
            self._store.close()

    # --- output ---------------------------------------------------------------------------

    def out(self, rows: Any, text: str) -> None:
        if self.args.json:
            print(json.dumps(jsonable(rows), indent=2, ensure_ascii=False))
        else:
            print(text)

    # --- addressing -----------------------------------------------------------------------

    def _where(self, client: ContentLibraryClient, side: str) -> str:
        """'on [SIDE ]URL': the server a name was looked up on, and which of the command's
        it is (copy: 'the source server', 'the target server'; compare: 'server B')."""
        return f"on {side + ' ' if side else ''}{client.server}"

    def _lister(self, client: ContentLibraryClient, command: str) -> str:
        """The command that lists the names `client`'s account sees."""
        if (client.server, client.username) == (self.url, self.server.username):
            return f"cl-transfer {command}"
        return f"cl-transfer --server {client.server} --user {client.username} {command}"

    def library_id(
        self, ref: str, client: ContentLibraryClient | None = None, side: str = ""
    ) -> str:
        """The library named or numbered `ref` on --server (or on `client`'s server; `side`
        names that server in the error, see `_where`)."""
        client = client or self.client
        try:
            return client.libraries.get(ref).id or ref
        except (errors.NotFound, errors.InvalidArgument):
            pass
        found = [
            m.id
            for m in client.libraries.list_models()
            if (m.name or "").lower() == ref.lower() and m.id
        ]
        if not found:
            raise NoSuchName(
                f"no library named {ref!r}",
                operation=self._where(client, side),
                lister=self._lister(client, "libraries"),
            )
        return found[0]

    def item_ref(
        self, ref: str, client: ContentLibraryClient | None = None, side: str = ""
    ) -> tuple[str, str | None, str]:
        """LIBRARY/ITEM -> (library id, item id or None if missing, item name), on --server
        (or on `client`'s server, which `side` names in errors)."""
        client = client or self.client
        if "/" not in ref:
            try:
                item = client.items.get(ref)
                return item.library_id or "", item.id, item.name or ""
            except (errors.NotFound, errors.InvalidArgument):
                raise UsageError(f"{ref!r}: address items as LIBRARY/ITEM, or by id") from None
        library_ref, item_ref = ref.split("/", 1)
        library_id = self.library_id(library_ref, client, side)
        for item_id in client.items.list(library_id):
            if item_id == item_ref:
                return library_id, item_id, item_ref
        ids = client.items.find(name=item_ref, library_id=library_id)
        if ids:
            return library_id, ids[0], item_ref
        return library_id, None, item_ref

    def existing_item(self, ref: str, side: str = "") -> tuple[str, str, str]:
        library_id, item_id, name = self.item_ref(ref, side=side)
        if item_id is None:
            raise NoSuchName(
                f"no item {ref!r}",
                operation=self._where(self.client, side),
                lister=self._lister(self.client, f"items {ref.split('/', 1)[0]!r}"),
            )
        return library_id, item_id, name

    # --- commands -------------------------------------------------------------------------

    def run(self) -> int:
        # log in first: a wrong password fails before anything else (the commands on the job
        # store without an account log in as their jobs' accounts, when they know them)
        if self.args.command not in _OFFLINE_COMMANDS and self.args.server and self.args.user:
            _ = self.client
        command = self.args.command.replace("-", "_")
        result: int = getattr(self, "cmd_" + command)()
        return result

    def cmd_libraries(self) -> int:
        models = self.client.libraries.list_models()
        self.out(models, "\n".join(f"{m.id}  {m.type}  {m.name}" for m in models) or "no libraries")
        return EXIT_OK

    def cmd_items(self) -> int:
        models = self.client.items.list_models(self.library_id(self.args.library))
        self.out(
            models,
            "\n".join(
                f"{m.id}  {m.type or '-':6} {m.size if m.size is not None else '-':>12}  {m.name}"
                for m in models
            )
            or "no items",
        )
        return EXIT_OK

    def cmd_files(self) -> int:
        _, item_id, _ = self.existing_item(self.args.item)
        rows = self.client.item_files.list(item_id)
        self.out(
            rows,
            "\n".join(
                f"{f.name}  {f.size}  cached={f.cached}  v{f.version}  "
                + (
                    f"{f.checksum_info.effective_algorithm}:{f.checksum_info.checksum}"
                    if f.checksum_info
                    else "no checksum"
                )
                for f in rows
            )
            or "no files",
        )
        return EXIT_OK

    def cmd_storage(self) -> int:
        _, item_id, _ = self.existing_item(self.args.item)
        rows = self.client.storage.list(item_id)
        self.out(
            rows,
            "\n".join(
                f"{s.name}  {s.storage_backing.type if s.storage_backing else '-'} "
                f"{s.storage_backing.datastore_id if s.storage_backing else ''}  "
                + " ".join(s.storage_uris)
                for s in rows
            )
            or "no storage",
        )
        return EXIT_OK

    def cmd_sessions(self) -> int:
        client = self.client
        ups = [client.update_sessions.get(i) for i in client.update_sessions.list()]
        downs = [client.download_sessions.get(i) for i in client.download_sessions.list()]
        item_ids = {s.library_item_id for s in ups} | {s.library_item_id for s in downs}
        names = self._item_names(item_ids)

        def row(session: Any) -> dict[str, Any]:
            return {**jsonable(session), "item_name": names.get(session.library_item_id or "")}

        def line(kind: str, session: Any, extra: str = "") -> str:
            expires = session.expiration_time
            until = expires.astimezone().strftime("%Y-%m-%d %H:%M:%S") if expires else "-"
            item = names.get(session.library_item_id or "") or "(item gone)"
            return (
                f"{kind:9} {session.id}  {session.state}  {item} [{session.library_item_id}]  "
                f"expires {until}{extra}"
            )

        rows = {
            "update_sessions": [row(s) for s in ups],
            "download_sessions": [row(s) for s in downs],
        }
        lines = [line("update", s, f"  progress={s.client_progress}") for s in ups]
        lines += [line("download", s) for s in downs]
        self.out(rows, "\n".join(lines) or "no sessions")
        return EXIT_OK

    def _item_names(self, item_ids: set[str | None]) -> dict[str, str]:
        """The names of these items, each asked once (one gone since has none)."""
        names: dict[str, str] = {}
        for item_id in sorted(i for i in item_ids if i):
            try:
                names[item_id] = self.client.items.get(item_id).name or ""
            except (errors.NotFound, errors.InvalidArgument):
                pass
        return names

    def cmd_session(self) -> int:
        sid, action = self.args.session_id, self.args.action
        client = self.client
        kinds = (("update", client.update_sessions), ("download", client.download_sessions))
        for kind, sessions in kinds:
            try:
                sessions.get(sid)
            except (errors.NotFound, errors.InvalidArgument):
                continue
            if action == "cancel":
                sessions.cancel(sid)
            elif action == "fail":
                sessions.fail(sid, self.args.message)
            elif action == "delete":
                sessions.delete(sid)
            else:
                sessions.keep_alive(sid)
            self.out(
                {"session": sid, "kind": kind, "action": action}, f"{action}: {kind} session {sid}"
            )
            return EXIT_OK
        raise NoSuchSession(
            f"no update session and no download session {sid!r} of {self.server.label}.",
            operation=f"{action} session",
        )

    def _store_path(self) -> Path:
        if self.args.queue_db:
            return Path(self.args.queue_db)
        return paths.job_store_path()  # the window's store: one history, one set of jobs

    def store(self) -> JobStore:
        if self._store is None:
            from cl_desktop.transfers.store import JobStore

            self._store = JobStore(self._store_path())
        return self._store

    def _queue(self) -> TransferQueue:
        """The queue, started with none of the persisted jobs: each command takes its own."""
        if self._queue_obj is None:
            from cl_desktop.transfers.queue import TransferQueue

            from .output import ProgressLine

            queue = TransferQueue(
                self.store(),
                self.client_for,  # each job's account, logged in before its jobs start
                max_parallel=self.args.parallel,
                bandwidth_limit=int(self.args.limit * 1e6) if self.args.limit else None,
                retry_policy=retry_policy(self.args),
                wait_for_login_again=False,  # one password, given at the start
                ask_about_warnings=False,  # nobody to ask: --ignore-warning or fail
                command_line=True,  # the failed jobs' hints name no window controls
            )
            if sys.stderr.isatty() and not self.args.json:
                queue.add_listener(ProgressLine())
            self._queue_obj = queue
        return self._queue_obj

    def _mine(self, spec: JobSpec) -> bool:
        """Whether the job is one this command acts on: every job, or those of --server
        and --user when given."""
        return self._mine_ref(spec.server)

    def _mine_ref(self, ref: ServerRef) -> bool:
        try:
            url = normalize_server(ref.url)
        except ValueError:
            return False
        if self.url and url != self.url:
            return False
        return not self.server.username or ref.username == self.server.username

    def cmd_upload(self) -> int:
        paths, folder_name = self._upload_paths()
        library_id, item_id, name = self.item_ref(self.args.item)
        if item_id is None and not self.args.create:
            raise errors.NotFound(
                f"no item {self.args.item!r} (use --create to create it)", operation="upload"
            )
        spec = JobSpec(
            Direction.UPLOAD,
            self.server,
            library_id,
            item_id=item_id,
            item_name=name or folder_name or item_name_for(paths[0]),
            item_type="file" if folder_name else None,
            paths=paths,
            unique_name=self.args.unique_name,
            ignore_warnings=tuple(dict.fromkeys(self.args.ignore_warnings)),
        )
        return self.run_new(spec)

    def _upload_paths(self) -> tuple[tuple[str, ...], str]:
        """The files to upload, a folder standing for the template inside it or its loose
        files (as a drop in the window); and, when the first path is a folder of loose files,
        its name (the new item's)."""
        paths: list[str] = []
        folder_name = ""
        for index, raw in enumerate(self.args.files):
            path = Path(raw).resolve()
            if not path.is_dir():
                paths.append(str(path))
                continue
            folder = folder_upload(path)
            paths += folder.paths
            if index == 0 and folder.template is None:
                folder_name = folder.name
        return tuple(paths), folder_name

    def cmd_import_url(self) -> int:
        from .importing import source_thumbprint

        url = self.args.url
        thumbprint = source_thumbprint(url, self.args)  # before anything is made
        ref = self.args.item
        unique = ref.endswith("/")
        if unique:  # LIBRARY/: a new item named after the URL's file, "NAME (2)" on a clash
            name = item_name_for(unquote(PurePosixPath(urlsplit(url).path).name)) or "imported"
            library_id, item_id = self.library_id(ref.rstrip("/")), None
        else:
            library_id, item_id, name = self.item_ref(ref)
        if item_id is None and not self.args.create:
            raise errors.NotFound(
                f"no item {ref!r} (use --create to create it)", operation="import from URL"
            )
        spec = JobSpec(
            Direction.UPLOAD,
            self.server,
            library_id,
            item_id=item_id,
            item_name=name,
            source_url=url,
            source_thumbprint=thumbprint,
            unique_name=unique,
            ignore_warnings=tuple(dict.fromkeys(self.args.ignore_warnings)),
        )
        return self.run_new(spec)

    def cmd_download(self) -> int:
        library_id, item_id, name = self.existing_item(self.args.item)
        if self.args.names:  # a name the item does not have: not found, before any job
            have = {f.name for f in self.client.item_files.list(item_id)}
            missing = [n for n in dict.fromkeys(self.args.names) if n not in have]
            if missing:
                raise NoSuchFile(
                    f"{self.args.item} has no file {', '.join(map(repr, missing))} "
                    f"(it has {', '.join(sorted(map(str, have))) or 'no files'})",
                    operation="download",
                )
        spec = JobSpec(
            Direction.DOWNLOAD,
            self.server,
            library_id,
            item_id=item_id,
            item_name=name,
            dest_dir=str(Path(self.args.dest_dir).resolve()),
            file_names=tuple(self.args.names),
            as_ova=self.args.ova,
            existing=Existing(self.args.existing),
        )
        return self.run_new(spec)

    def cmd_copy(self) -> int:
        library_id, item_id, name = self.existing_item(self.args.item, "the source server")
        to, target = destination_login(self, self.args.to_server)  # CL_TO_PASSWORD's account
        library_ref, _, item_ref = self.args.destination.partition("/")
        if not library_ref:
            raise UsageError(f"{self.args.destination!r}: give the target as LIBRARY[/ITEM]")
        target_library = self.library_id(library_ref, target, "the target server")
        target_item: str | None = None
        if item_ref:  # an existing item of that name is updated, else one is made so named
            found = [
                m for m in target.items.list_models(target_library) if item_ref in (m.id, m.name)
            ]
            target_item = found[0].id if found else None
        spec = copy_job(
            self.server, library_id, item_id, name, to, target_library, target_item, item_ref
        )
        return self.run_new(spec)

    def run_new(self, spec: JobSpec) -> int:
        """Run only the job this command adds: other persisted jobs are left to `resume`."""
        queue = self._queue()
        queue.start(accept=lambda _spec: False)
        return self._wait([queue.add(spec)])

    def cmd_resume(self) -> int:
        """Run the unfinished jobs (of --server and --user, when given; only those numbered,
        when given) no live process owns, each as the account its job names.

        Every account logs in first; a job whose accounts (its own, a copy's or fan-out's
        targets) cannot log in stays queued, and an error line per account names its jobs.
        The others run; the exit code is then that of the first login that failed."""
        store = self.store()
        unfinished = self._unfinished(store.load())
        runnable = [j for j in unfinished if not store.claimed_elsewhere(j.id)]
        unclean = [ref for _, ref, _, _ in store.cleanups() if self._mine_ref(ref)]
        # every account logs in now, before any job starts: a password is asked for (or
        # missing) here, once per account, not on a worker's thread
        others = self._other_accounts_of(runnable)  # copies' and fan-outs' targets too
        refused: dict[tuple[str, str], BaseException] = {}
        for ref in dict.fromkeys([j.spec.server for j in runnable] + others + unclean):
            try:
                self.client_for(ref)
            except (ContentLibraryError, NoPassword) as exc:  # its jobs wait, not the others'
                refused.setdefault(_account(ref), exc)
        left = [j for j in runnable if any(a in refused for a in _accounts_of(j.spec))]
        for account, error in refused.items():
            title, message = describe(error, command_line=True)
            jobs = [f"job {j.id} ({j.spec.direction.value} {j.spec.item_name})" for j in left
                    if account in _accounts_of(j.spec)]  # fmt: skip
            if jobs:
                waiting = f"Left queued for {account[1]} on {account[0]}: {', '.join(jobs)}."
                message = f"{message.rstrip('.')}. {waiting}"
            print(f"error: {title}: {message}", file=sys.stderr)
        from cl_desktop.transfers.queue import JobClaimed

        queue = self._queue()
        ids = []
        for job in runnable:
            if job in left:
                continue
            try:
                taken = queue.adopt(job.id)
            except JobClaimed:  # taken by another process since
                continue
            if not taken.state.finished:
                ids.append(job.id)
        queue.start(accept=lambda _spec: False)  # runs the jobs adopted
        for ref in dict.fromkeys(r for r in unclean if _account(r) not in refused):
            queue.perform_cleanups(ref)  # sessions and empty items left unreachable
        if unclean:
            queue.wait_cleanups(60)
        for job_id in ids:
            if queue.snapshot(job_id).state is JobState.PAUSED:
                queue.resume(job_id)
        in_use = [j.id for j in unfinished if store.claimed_elsewhere(j.id)]
        if in_use:
            note(f"left alone, in use by another process: job {', '.join(map(str, in_use))}")
        first_refused = exit_code_for(next(iter(refused.values()))) if refused else EXIT_OK
        if not ids:
            if not refused or self.args.json:
                self.out([], "nothing to resume")
            return first_refused
        for job_id in ids:
            job = queue.snapshot(job_id)
            note(f"resuming job {job_id}: {job.spec.direction.value} {job.spec.item_name}")
        code = self._wait(ids)
        return first_refused or code

    def _unfinished(self, jobs: list[JobSnapshot]) -> list[JobSnapshot]:
        """The unfinished jobs `resume` acts on: of --server and --user when given, and the
        jobs numbered on the command line when given (each must be one of those)."""
        wanted = dict.fromkeys(self.args.job_ids)
        by_id = {j.id: j for j in jobs}
        for job_id in wanted:
            job = by_id.get(job_id)
            if job is None:
                raise NoSuchJob(f"no job {job_id} in {self._store_path()}")
            if not self._mine(job.spec):
                raise UsageError(
                    f"job {job_id} belongs to {job.spec.server.username} on "
                    f"{job.spec.server.url}; give that --server and --user, or neither"
                )
            if job.state.finished:
                again = "" if job.state is JobState.DONE else "; `retry` runs it again"
                raise UsageError(f"job {job_id} is {job.state.value}{again}")
        return [
            j
            for j in jobs
            if self._mine(j.spec) and not j.state.finished and (not wanted or j.id in wanted)
        ]

    def _adopt(self, job_id: int) -> JobSnapshot:
        """Take one persisted job (of --server and --user, when given) into the queue (not
        started yet)."""
        try:
            job = self._queue().adopt(job_id)
        except KeyError:
            raise NoSuchJob(f"no job {job_id} in {self._store_path()}") from None
        if not self._mine(job.spec):
            raise UsageError(
                f"job {job_id} belongs to {job.spec.server.username} on {job.spec.server.url}; "
                "give that --server and --user, or neither"
            )
        return job

    def cmd_retry(self) -> int:
        job = self._adopt(self.args.job_id)
        queue = self._queue()
        if job.state is JobState.DONE:
            raise UsageError(f"job {job.id} is done; there is nothing to retry")
        self.client_for(job.spec.server)  # its account logs in before the job starts
        for other in self._other_accounts_of([job]):  # and its targets' (copy, fan-out)
            self.client_for(other)
        queue.start(accept=lambda _spec: False)  # runs the job if it was left queued
        if job.state is JobState.PAUSED:
            queue.resume(job.id)
        else:
            queue.retry(job.id)  # failed or canceled; a queued one is already scheduled
        note(f"retrying job {job.id}: {job.spec.direction.value} {job.spec.item_name}")
        return self._wait([job.id])

    def cmd_remove(self) -> int:
        job = self._adopt(self.args.job_id)
        from cl_desktop.transfers.context import end_session

        if job.spec.direction is Direction.COPY:
            # its target (the session and the item it made there) logs in as a destination,
            # with CL_TO_PASSWORD, now: not on the cleaner's thread, where a refusal goes unseen
            for other in self._other_accounts_of([job]):
                self.client_for(other)
        if job.session_id:  # left by a run that was killed: end it, as the queue would
            copy = job.spec.direction is Direction.COPY  # its update session on the target
            client = self.client_for(job.spec.copy_target if copy else job.spec.server)
            sessions = (
                client.update_sessions
                if job.spec.direction is Direction.UPLOAD or copy
                else client.download_sessions
            )
            if not end_session(sessions, job.session_id, None):
                raise errors.ServiceUnavailable(
                    f"the session {job.session_id} of job {job.id} could not be ended; the job "
                    "is kept, try again when the server is reachable",
                    operation="remove job",
                )
        self._queue().remove(job.id)
        what = f"{job.spec.direction.value} {job.spec.item_name}"
        self.out({"removed": job.id}, f"removed job {job.id}: {what}")
        return EXIT_OK

    def cmd_jobs(self) -> int:
        store = self.store()
        jobs = [j for j in store.load() if self._mine(j.spec)]
        rows = []
        for job in jobs:
            row = job_summary(job)
            row["in_use"] = store.claimed_elsewhere(job.id)
            row["bytes_total"] = job.bytes_total
            row["progress"] = round(job.fraction, 4)
            rows.append(row)
        lines = []
        for job, row in zip(jobs, rows, strict=True):
            state = job.state.value
            if row["in_use"]:
                state += " (in use by another process)"
            elif job.state is JobState.RUNNING:
                state += " (its process ended; `resume` continues it)"
            progress = f"{job.fraction:.0%}" if job.bytes_total else "-"
            error = f"  {job.error_title}: {job.error_message}" if job.error_message else ""
            copy = job.spec.direction is Direction.COPY  # and where it went
            lines.append(
                f"{job.id:>5}  {job.spec.direction.value:8} {state:12} {progress:>5}  "
                f"{job.spec.title if copy else job.spec.item_name}{error}"
            )
        self.out(rows, "\n".join(lines) or "no jobs")
        return EXIT_OK

    def cmd_compare(self) -> int:
        from .comparing import run_compare

        return run_compare(self)

    def cmd_fanout(self) -> int:
        from .fanning import run_fanout_command

        return run_fanout_command(self)

    def cmd_trust(self) -> int:
        from .trusting import run_trust

        return run_trust(self.url, self.args, self.out)

    def cmd_untrust(self) -> int:
        from .trusting import run_untrust

        return run_untrust(self.url, self.out)

    def cmd_history(self) -> int:
        store = self.store()
        if self.args.export:
            count = store.export_history(self.args.export, self.args.format)
            self.out(
                {"exported": count, "file": self.args.export},
                f"{count} records written to {self.args.export}",
            )
            return EXIT_OK
        records = store.history()  # every server's: the audit trail, as the export
        # a download's record names the local file it wrote (recorded since that was kept)
        rows = [{**jsonable(r), "path": r.extra.get("path"), **_copy_target(r)} for r in records]
        self.out(
            rows,
            "\n".join(
                f"{r.started_at}  {r.direction:8} {r.outcome:8} {r.bytes:>12}  {r.item_name}/"
                f"{r.file}  {r.verification}  {r.error}"
                + (f" -> {r.extra['path']}" if r.extra.get("path") else "")
                + _copy_target_words(r)
                for r in records
            )
            or "no history",
        )
        return EXIT_OK

    def _wait(self, ids: list[int]) -> int:
        queue = self._queue()
        results = [queue.wait(job_id) for job_id in ids]
        self.out([job_summary(j) for j in results], "\n".join(job_line(j) for j in results))
        failed = [j for j in results if j.state is not JobState.DONE]
        if not failed:
            return EXIT_OK
        kinds = {j.failure for j in failed}
        if FailureKind.INTERNAL in kinds:  # the queue logged the trace
            print(f"cl-transfer: {INTERNAL_ERROR}", file=sys.stderr)
            return EXIT_INTERNAL
        if FailureKind.INTEGRITY in kinds:
            return EXIT_INTEGRITY
        return EXIT_FAILED


# A copy's history record: its server, library and item are the source's; these, where it went.
_COPY_TARGET = ("target_server", "target_user", "target_library_id", "target_item_id")


def _copy_target(record: HistoryRecord) -> dict[str, str | None]:
    if record.direction != Direction.COPY.value:
        return {}
    return {key: record.extra.get(key) or None for key in _COPY_TARGET}


def _copy_target_words(record: HistoryRecord) -> str:
    """ " -> ITEM on SERVER" for a copy's history line."""
    if record.direction != Direction.COPY.value or not record.extra.get("target_server"):
        return ""
    into = record.extra.get("target_item_name") or record.extra.get("target_item_id") or "?"
    return f" -> {into} on {record.extra['target_server']}"


def _account(ref: ServerRef) -> tuple[str, str]:
    return normalize_server(ref.url), ref.username


def _accounts_of(spec: JobSpec) -> set[tuple[str, str]]:
    """Every account a job logs in to: its own, a copy's target's, its fan-out targets'."""
    refs = [spec.server, *([spec.target_server] if spec.target_server else [])]
    return {_account(r) for r in refs + [t.server for t in spec.fanout_targets]}
