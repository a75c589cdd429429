"""The notebook service: a user's notebooks on disk, in the database and in the runtime."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.cluster.placements import Placements, Remote
from hexa.errors import (
    ConflictError,
    ForbiddenError,
    LimitError,
    NotFoundError,
    TooLargeError,
    UnavailableError,
)
from hexa.marimo.client import MarimoClient
from hexa.marimo.protocol import NotebookClient
from hexa.marimo.transport import MarimoHTTP
from hexa.notebooks.editor_saves import EditorSaves, marimo_id
from hexa.notebooks.files import NotebookFiles
from hexa.notebooks.paths import (
    canonical_path,
    display_name,
    resolve_notebook_path,
    safe_file_name,
)
from hexa.notebooks.views import NotebookSummary
from hexa.proxy.upstream import Upstream
from hexa.runtime.process import NotebookSpec
from hexa.runtime.supervisor import (
    CapacityError,
    ManagedProcess,
    ProcessState,
    StartError,
    Supervisor,
)
from hexa.store import Notebook as NotebookRow
from hexa.store import NotebookRepository, NotebookStatus
from hexa.users import Principal, UserService

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Running:
    """A started notebook and the client that speaks to its marimo."""

    notebook_id: str
    owner: Principal
    client: NotebookClient
    upstream: Upstream
    token: str
    session_id: str

    @property
    def marimo(self) -> str:
        """Which marimo session serves it (see hexa.notebooks.editor_saves)."""
        return marimo_id(self.upstream.origin, self.upstream.base_path, self.session_id)


# Seconds a replica reuses where another replica's notebook runs before reading it again.
REMOTE_TTL = 2.0


def notebook_url(notebook_id: str) -> str:
    return f"/nb/{notebook_id}/"


class NotebookService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        supervisor: Supervisor,
        users: UserService,
        files: NotebookFiles,
        http: MarimoHTTP,
        placements: Placements,
        saves: EditorSaves | None = None,
        max_code_bytes: int = 256 * 1024,
        sole_user_id: int | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self._sessions = sessions
        self._supervisor = supervisor
        self._placements = placements
        self._start_timeout = start_timeout
        # Notebooks on other replicas, as last read: the proxy's hot path for them.
        self._remotes: dict[str, tuple[float, Remote]] = {}
        self._users = users
        self.files = files
        self._http = http
        # What recent edits changed, for the proxy to mend an editor's save with.
        self.saves = saves or EditorSaves()
        # One client per live process (here or on another replica): it caches the
        # session's current ws id.
        self._clients: dict[str, tuple[object, MarimoClient, int]] = {}
        self._max_code_bytes = max_code_bytes
        self._sole_user_id = sole_user_id
        supervisor.on_state_change(self._state_changed)

    def _state_changed(self, nb: ManagedProcess) -> None:
        """A notebook that left RUNNING here takes its client's waiting calls with it (a
        kernel dead inside a person's shared marimo would leave them hanging)."""
        if nb.state is ProcessState.RUNNING:
            return
        cached = self._clients.get(nb.notebook_id)
        # A remote's (keyed by where it runs) is another replica's to end.
        if cached is not None and not isinstance(cached[0], tuple):
            del self._clients[nb.notebook_id]
            reason = nb.reason or f"the notebook is {nb.state.value}"
            cached[1].abort(f"notebook {nb.notebook_id} stopped running: {reason}")

    # -- the catalogue -------------------------------------------------------------------

    async def catalogue(self, user: Principal) -> list[NotebookSummary]:
        async with self._sessions() as session:
            rows = await NotebookRepository(session).list_for_owner(user.id)
        elsewhere = await self._placements.holders([row.id for row in rows])
        return [self._view(row, row.id in elsewhere) for row in rows]

    async def get(self, user: Principal, notebook_id: str) -> NotebookSummary:
        row = await self._row(user, notebook_id)
        elsewhere = await self._placements.holders([notebook_id])
        return self._view(row, notebook_id in elsewhere)

    def folder(self, user: Principal) -> Path:
        """The user's notebook folder: new notebooks go there, and read files from it."""
        return self._users.folder(user)

    async def create(
        self,
        user: Principal,
        *,
        text: str,
        name: str | None = None,
        notebook_path: str | None = None,
        notebook_id: str | None = None,
    ) -> NotebookSummary:
        """Validate `text`, write it atomically to a new file, and register the notebook."""
        notebook_id = notebook_id or uuid.uuid4().hex
        folder = self._users.folder(user)
        if notebook_path is None:
            base = safe_file_name(name) if name else f"{notebook_id}.py"
            notebook_path = self._free_path(folder, base)
        notebook_path = canonical_path(notebook_path)
        path = resolve_notebook_path(folder, notebook_path)
        if path.exists():
            raise ConflictError(f"a file already exists at {notebook_path}")
        await self.files.write(folder, notebook_path, text)
        try:
            async with self._sessions.begin() as session:
                row = await NotebookRepository(session).create(
                    user.id, notebook_id, notebook_path, name or display_name(notebook_path)
                )
                return self._view(row, held=False)
        except ConflictError:
            await self.files.remove(folder, notebook_path)
            raise

    async def create_from_text(
        self, user: Principal, text: str, *, name: str | None = None
    ) -> NotebookSummary:
        """Notebook text from elsewhere (an LLM, a file), normalised when marimo can read
        it; saved under a new id."""
        return await self.create(user, text=await self.files.normalize(text), name=name)

    async def create_from_template(
        self,
        user: Principal,
        *,
        name: str,
        template: str = "blank",
        notebook_path: str | None = None,
    ) -> NotebookSummary:
        text = self.files.template(template, title=name)
        return await self.create(user, text=text, name=name, notebook_path=notebook_path)

    async def find_by_name(self, user: Principal, name: str) -> NotebookSummary:
        """The caller's notebook called `name` (or with that id, or file name)."""
        views = await self.catalogue(user)
        for match in (
            lambda v: v.notebook_id == name,
            lambda v: v.name == name,
            lambda v: v.path in (name, f"{name}.py"),
        ):
            found = [v for v in views if match(v)]
            if len(found) > 1:
                ids = ", ".join(f"/{v.notebook_id}" for v in found)
                raise ConflictError(
                    f"{len(found)} notebooks are called {name!r}; open one by its id: {ids}"
                )
            if found:
                return found[0]
        raise NotFoundError(f"no notebook named {name}")

    async def rename(self, user: Principal, notebook_id: str, name: str) -> NotebookSummary:
        """A new display name; the file keeps its path so open editors are not disturbed."""
        async with self._sessions.begin() as session:
            row = await NotebookRepository(session).rename(user.id, notebook_id, name=name)
            if row is None:
                raise NotFoundError(f"no notebook {notebook_id}")
        elsewhere = await self._placements.holders([notebook_id])
        return self._view(row, notebook_id in elsewhere)

    async def delete(self, user: Principal, notebook_id: str) -> None:
        """Stop it, forget it, and remove its file."""
        row = await self._row(user, notebook_id)
        await self._stop(notebook_id)
        await self._supervisor.forget(notebook_id)
        folder = self._users.folder(user)
        resolve_notebook_path(folder, row.path)  # still inside the folder
        async with self._sessions.begin() as session:
            await NotebookRepository(session).delete(user.id, notebook_id)
        await self.files.remove(folder, row.path)

    async def read_code(self, user: Principal, notebook_id: str) -> str:
        """The notebook's file as saved on disk (works whether or not it runs)."""
        row = await self._row(user, notebook_id)
        folder = self._users.folder(user)
        resolve_notebook_path(folder, row.path)  # still inside the folder
        try:
            return await self.files.read(folder, row.path)
        except FileNotFoundError as exc:
            raise NotFoundError(f"the file of notebook {notebook_id} is gone") from exc

    # -- running ---------------------------------------------------------------------------

    async def open(self, user: Principal, notebook_id: str, notebook_path: str) -> Running:
        """Open (registering and creating the file if new) and return once it is ready."""
        folder = self._users.folder(user)
        notebook_path = canonical_path(notebook_path)
        path = resolve_notebook_path(folder, notebook_path)
        async with self._sessions.begin() as session:
            repo = NotebookRepository(session)
            row = await repo.get(user.id, notebook_id)
            if row is None:
                if not await repo.id_available(notebook_id):
                    # The same answer whether another user holds the id or it was retired.
                    raise ConflictError(
                        f"notebook_id {notebook_id} is not available; choose another"
                    )
                at_path = await repo.get_by_path(user.id, notebook_path)
                if at_path is not None:
                    raise ConflictError(f"{notebook_path} is already open as notebook {at_path.id}")
                created_file = not path.exists()
                if created_file:
                    await self.files.write(folder, notebook_path, self.files.blank())
                try:
                    row = await repo.create(
                        user.id, notebook_id, notebook_path, display_name(notebook_path)
                    )
                except ConflictError:
                    # A concurrent open won the id or path: leave no orphan blank file.
                    if created_file:
                        await self.files.remove(folder, notebook_path)
                    raise
            elif row.path != notebook_path:
                raise ConflictError(f"notebook {notebook_id} is {row.path}, not {notebook_path}")
        return await self.running(user, notebook_id, opening=True)

    async def running(
        self, user: Principal, notebook_id: str, *, opening: bool = False, start: bool = True
    ) -> Running:
        """The notebook's live marimo, here or on another replica, started here first when
        it runs nowhere (unless not `start`: a closed notebook stays closed for an old
        tab's background requests)."""
        nb = self._supervisor.get(notebook_id)
        if not opening and nb is not None and nb.owner_id == user.id:
            if nb.state is ProcessState.RUNNING:
                # Hot path (every proxied asset): the supervisor already knows the owner.
                self._supervisor.touch(notebook_id)
                return self._running(user, nb)
        elif not opening and (cached := self._remotes.get(notebook_id)) is not None:
            read_at, known = cached
            if time.monotonic() - read_at < REMOTE_TTL and self._clients_owner(notebook_id, user):
                await self._placements.touch(notebook_id)
                return self._remote_running(user, known)
        row = await self._row(user, notebook_id)
        path = resolve_notebook_path(self._users.folder(user), row.path)
        if nb is None or nb.state is not ProcessState.RUNNING:
            remote = await self._placements.remote(notebook_id)
            if remote is None:
                if not start:
                    state = nb.state.value if nb is not None else "stopped"
                    raise UnavailableError(
                        f"notebook {notebook_id} is {state}; open it (reload its page) to start it"
                    )
                if not path.exists():
                    raise NotFoundError(f"the file of notebook {notebook_id} is gone")
                await self.files.check(self._users.folder(user), row.path)
                self._check_may_run(user)
                spec = NotebookSpec(notebook_id, user.id, user.name, path, self._users.folder(user))
                remote = await self._claim(notebook_id)
                if remote is None:
                    nb = await self._start(spec)
            if remote is not None:
                await self._placements.touch(notebook_id)
                if opening:
                    await self._mark_opened(user, notebook_id)
                self._remotes[notebook_id] = (time.monotonic(), remote)
                return self._remote_running(user, remote)
        assert nb is not None  # running here: it ran already, or was started just now
        self._supervisor.touch(notebook_id)
        if opening:
            await self._mark_opened(user, notebook_id)
        return self._running(user, nb)

    async def close(self, user: Principal, notebook_id: str) -> None:
        await self._row(user, notebook_id)
        await self._stop(notebook_id)

    async def restart(self, user: Principal, notebook_id: str) -> Running:
        """Stop and start again from the file (the button on a failed tab)."""
        await self._row(user, notebook_id)
        await self._stop(notebook_id)
        return await self.running(user, notebook_id)

    def check_code_sizes(self, codes: list[str]) -> None:
        """413 when a cell is larger than `max_code_bytes` (API, import, agent alike)."""
        for code in codes:
            if len(code.encode()) > self._max_code_bytes:
                raise TooLargeError(
                    f"a cell's code is larger than {self._max_code_bytes} bytes (max_code_bytes)"
                )

    def touch(self, notebook_id: str) -> None:
        self._supervisor.touch(notebook_id)

    # -- internals -------------------------------------------------------------------------

    def _check_may_run(self, user: Principal) -> None:
        if self._sole_user_id is not None and user.id != self._sole_user_id:
            raise ForbiddenError(
                "this Hexa runs notebooks without a sandbox (HEXA_SANDBOX=none), so only "
                "its default user may run them; install bubblewrap, or set "
                "HEXA_ALLOW_UNSANDBOXED_USERS=true to accept that users can read each "
                "other's files"
            )

    async def _stop(self, notebook_id: str) -> None:
        """Stop it here, or have the replica that runs it stop it."""
        self._remotes.pop(notebook_id, None)
        await self._supervisor.stop(notebook_id)
        await self._placements.stop_elsewhere(notebook_id, self._start_timeout)

    async def _claim(self, notebook_id: str) -> Remote | None:
        """Claim the notebook to start it here (None), or the replica that is starting it
        already, once it runs there."""
        for _ in range(2):
            holder = await self._placements.claim(notebook_id)
            if holder is None:
                return None
            remote = await self._placements.wait_remote(notebook_id, self._start_timeout)
            if remote is not None:
                return remote
            # It stopped there, or its replica went: claim it again, once.
        raise UnavailableError(
            f"notebook {notebook_id} is starting on replica {holder}; try again in a moment"
        )

    async def _mark_opened(self, user: Principal, notebook_id: str) -> None:
        async with self._sessions.begin() as session:
            await NotebookRepository(session).mark_opened(user.id, notebook_id)

    def _clients_owner(self, notebook_id: str, user: Principal) -> bool:
        cached = self._clients.get(notebook_id)
        return cached is not None and cached[2] == user.id

    async def _start(self, spec: NotebookSpec) -> ManagedProcess:
        try:
            return await self._supervisor.ensure_running(spec)
        except CapacityError as exc:
            status = 409 if exc.limit == "max_notebooks_per_user" else 429
            raise LimitError(str(exc), exc.limit, status) from exc
        except StartError as exc:
            raise UnavailableError(
                f"notebook {spec.notebook_id} could not start: {exc.reason}"
            ) from exc

    def _running(self, user: Principal, nb: ManagedProcess) -> Running:
        process = nb.process
        if process is None or nb.session_id is None:
            raise UnavailableError(f"notebook {nb.notebook_id} is {nb.state.value}")
        self._remotes.pop(nb.notebook_id, None)
        upstream = Upstream(nb.notebook_id, process.origin, process.base_path, process.file_key)
        return self._connect(user, process, upstream, process.token, nb.session_id)

    def _remote_running(self, user: Principal, remote: Remote) -> Running:
        key = (remote.replica_id, remote.origin, remote.token, remote.session_id)
        upstream = Upstream(remote.notebook_id, remote.origin, remote.base_path, remote.file_key)
        return self._connect(user, key, upstream, remote.token, remote.session_id)

    def _connect(
        self, user: Principal, key: object, upstream: Upstream, token: str, session: str
    ) -> Running:
        """The notebook's marimo as `upstream` reaches it, its client kept while the same
        marimo (`key`: a local process, or where another replica runs it) serves it."""
        notebook_id = upstream.notebook_id
        cached = self._clients.get(notebook_id)
        if cached is not None and cached[0] == key:
            client = cached[1]
        else:
            url = upstream.origin + upstream.base_path
            marimo = marimo_id(upstream.origin, upstream.base_path, session)
            client = MarimoClient(
                url,
                token,
                self._http,
                stable_session_id=session,
                file_key=upstream.file_key,
                watch=functools.partial(self.saves.batch, notebook_id, marimo),
            )
            self._clients[notebook_id] = (key, client, user.id)
        return Running(
            notebook_id=notebook_id,
            owner=user,
            client=client,
            upstream=upstream,
            token=token,
            session_id=session,
        )

    async def _row(self, user: Principal, notebook_id: str) -> NotebookRow:
        async with self._sessions() as session:
            row = await NotebookRepository(session).get(user.id, notebook_id)
        # Someone else's notebook looks exactly like a missing one.
        if row is None:
            raise NotFoundError(f"no notebook {notebook_id}")
        return row

    def _view(self, row: NotebookRow, held: bool) -> NotebookSummary:
        """Its state here if it runs here; as its replica recorded it if a live replica
        holds it; else stopped (or failed, with the reason, as it was left)."""
        nb = self._supervisor.get(row.id)
        if nb is not None and (nb.state is not ProcessState.STOPPED or not held):
            status, reason = nb.state.value, nb.reason
        elif held or row.status is NotebookStatus.FAILED:
            status, reason = row.status.value, row.failure_reason
        else:
            status, reason = NotebookStatus.STOPPED.value, None
        return NotebookSummary(
            notebook_id=row.id,
            name=row.name,
            path=row.path,
            url=notebook_url(row.id),
            status=status,
            reason=reason,
            created_at=row.created_at,
            last_opened_at=row.last_opened_at,
        )

    @staticmethod
    def _free_path(folder: Path, base: str) -> str:
        stem = base[:-3]
        candidate, n = base, 1
        while (folder / candidate).exists():
            n += 1
            candidate = f"{stem}_{n}.py"
        return candidate
