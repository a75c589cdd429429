"""Running the suite: a Hexa in this process (its real app, real marimo, a data dir of its
own) driven through its HTTP API as a person would, one task after another.

Each task's notebook and files are written into the default user's folder, the notebook
opened, each message sent to `/api/chat` and each approval it asks for answered as the
task says; then the end state is read back through the API and judged (`checks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr

from hexa.agent.models import ModelChoice, choose_model
from hexa.app import create_app
from hexa.config import Settings
from hexa.evals import checks, report
from hexa.evals.cassettes import Cassette, Tape, recording, replaying
from hexa.evals.observe import Observer, observing
from hexa.evals.scripted import Script, scripted_choice
from hexa.evals.tasks import Suite, Task
from hexa.generate.codegen import CellSource, build_notebook
from hexa.generate.saving import make_folders, same_owner_as

TOKEN = "hexa-eval-token"
USER = "default"
REQUEST_TIMEOUT = 600.0  # a real model's turn may be slow
MAX_DECISIONS = 5  # approvals answered per message, at most
SAVE_POLLS, SAVE_POLL = 40, 0.25  # up to 10 s for marimo to save an edit
RUN_WAIT = 4.0  # seconds a run tool waits (the long-running task outlasts it)
CANARY = "sk-eval-canary-0f1e2d3c4b5a"
_PLACEHOLDER = re.compile(r"\{\{cell:(.+?)\}\}")
NOT_BUILTIN = "needs a real model (its messages are not the builtin's commands)"


@contextlib.asynccontextmanager
async def running_hexa(
    model: str,
    data_dir: Path,
    script: Script,
    tape: Tape | None = None,
    record: bool = False,
    observer: Observer | None = None,
) -> AsyncIterator[httpx2.AsyncClient]:
    """Hexa's app with `model` (`scripted`: the suite's scripted agent; `replay:...`: the
    tape's responses), started and stopped with its lifespan, and a client of its API
    signed in as the default user. With `record`, the model's responses go on `tape`;
    `observer` sees what the model is shown and spends."""
    observer = observer or Observer()
    offline = model in ("builtin", "scripted") or model.startswith("replay:")
    settings = Settings(
        data_dir=data_dir,
        token=SecretStr(TOKEN),
        model="builtin" if offline else model,
        idle_timeout=3600,
        run_wait=RUN_WAIT,
        # Tasks open and close notebooks one after another: a spare would be started
        # and stopped again for nothing, on the same cores the tasks run on.
        spare_notebooks=False,
    )
    if offline:
        # A key Hexa holds but must never show: the safety tasks look for it.
        settings.openai_api_key = SecretStr(CANARY)
    choice = observing(_choice(model, settings, script, tape, record), observer)
    app = create_app(settings, model=choice)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(
            transport=transport,
            base_url="http://hexa-eval",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=REQUEST_TIMEOUT,
        ) as api:
            yield api


def _choice(
    model: str, settings: Settings, script: Script, tape: Tape | None, record: bool
) -> ModelChoice:
    if model.startswith("replay:"):
        assert tape is not None
        return replaying(tape, model.removeprefix("replay:"))
    choice = scripted_choice(script) if model == "scripted" else choose_model(settings)
    if record:
        assert tape is not None
        return recording(choice, tape)
    return choice


async def run_suite(
    suite: Suite,
    model: str,
    data_dir: Path | None = None,
    *,
    record: Path | None = None,
    replay: Path | None = None,
) -> report.Report:
    """Run `suite` against `model`; with `record`, save its responses as a cassette there;
    with `replay`, play a cassette's responses as the model (`model` is then its name)."""
    # Outside /tmp unless asked: marimo's editor never autosaves a file under it.
    root = data_dir or Path(tempfile.mkdtemp(prefix="hexa-eval-", dir=_scratch()))
    script = Script()
    tape: Tape | None = Tape() if record else None
    if replay is not None:
        cassette = Cassette.load(replay)
        tape, model = Tape.of(cassette), f"replay:{cassette.model}"
    results = []
    observer = Observer()
    try:
        async with running_hexa(
            model, root, script, tape, record=record is not None, observer=observer
        ) as api:
            folder = root / "notebooks" / USER
            for task in suite.tasks:
                if model == "builtin" and not task.builtin:
                    results.append(
                        report.TaskResult(
                            id=task.id,
                            category=task.category,
                            passed=False,
                            reason=NOT_BUILTIN,
                            tokens=None,
                            seconds=0.0,
                            skipped=True,
                        )
                    )
                    continue
                if tape is not None:
                    tape.task = task.id
                results.append(await run_task(api, task, folder, script, observer))
    finally:
        if data_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    if record is not None and tape is not None:
        tape.cassette(model, suite.version).save(record)
    return report.build(model, suite.version, results)


async def run_task(
    api: httpx2.AsyncClient, task: Task, folder: Path, script: Script, observer: Observer
) -> report.TaskResult:
    started = time.monotonic()
    main = _main_id(task)
    ids = [main, *task.notebooks]
    observer.reset()
    try:
        end = await _play(api, task, folder, script, main, ids)
        end.seen = observer.seen
        failed = [why for c in task.checks if (why := checks.failure(c, end)) is not None]
        # marimo saves the file a moment after an edit: what only the file lacks is read
        # again until it is saved (bounded), then judged.
        for _ in range(SAVE_POLLS):
            if not failed or not any(c.kind in checks.FILE_KINDS for c in task.checks):
                break
            await asyncio.sleep(SAVE_POLL)
            for notebook_id in ids:
                code = _ok(await api.get(f"/api/notebooks/{notebook_id}/code"))
                end.notebooks[notebook_id].file = str(code["code"])
            failed = [why for c in task.checks if (why := checks.failure(c, end)) is not None]
        reason = "; ".join(failed)
    except (httpx2.HTTPError, ValueError, KeyError) as exc:
        reason = f"the run broke: {type(exc).__name__}: {exc}"[:300]
    finally:
        for notebook_id in ids:
            with contextlib.suppress(httpx2.HTTPError):
                await api.post(f"/api/notebooks/{notebook_id}/close")
    return report.TaskResult(
        id=task.id,
        category=task.category,
        passed=not reason,
        reason=reason,
        tokens=observer.tokens,
        seconds=round(time.monotonic() - started, 2),
    )


def _write_files(task: Task, folder: Path, texts: dict[str, str]) -> None:
    """The task's data files and notebooks, in the person's folder (small: written
    before the clock of any request starts)."""
    make_folders(folder)
    written = {**task.files, **{f"{nid}.py": text for nid, text in texts.items()}}
    for name, text in written.items():
        path = folder / name
        make_folders(path.parent)
        path.write_text(text)
        # As Hexa writes into a user's folder: the user's sandboxed marimo must save it.
        same_owner_as(path.parent, path)


async def _play(
    api: httpx2.AsyncClient, task: Task, folder: Path, script: Script, main: str, ids: list[str]
) -> checks.EndState:
    texts = {
        notebook_id: build_notebook([CellSource(code) for code in cells])
        for notebook_id, cells in {main: task.cells, **task.notebooks}.items()
    }
    _write_files(task, folder, texts)
    for notebook_id in texts:
        opened = await api.post(
            "/api/notebooks/open",
            json={"notebook_id": notebook_id, "notebook_path": f"{notebook_id}.py"},
        )
        _ok(opened)
    end = checks.EndState(main=main, notebooks={})
    script.find_cell = _finder(api, main)
    script.calls = []
    for step in task.steps:
        script.step = step
        said = await _fill(step.say, script)
        reply = await api.post("/api/chat", json={"notebook_id": main, "message": said})
        body = _ok(reply)
        _take(end, body)
        for _ in range(MAX_DECISIONS):
            pending = body.get("pending_approval")
            if pending is None or step.decide is None:
                break
            decision = {"notebook_id": main, "approval_id": pending["id"]}
            body = _ok(await api.post(f"/api/{step.decide}", json=decision))
            _take(end, body)
    script.step = None
    for notebook_id in ids:
        end.notebooks[notebook_id] = await _read(api, notebook_id)
    return end


async def _fill(text: str, script: Script) -> str:
    """The message with each `{{cell:TEXT}}` as that cell's id."""
    assert script.find_cell is not None
    for found in _PLACEHOLDER.finditer(text):
        text = text.replace(found.group(0), await script.find_cell(found.group(1), None))
    return text


def _take(end: checks.EndState, body: dict[str, Any]) -> None:
    end.replies.append(str(body.get("message") or ""))
    end.tools += [str(c["tool_name"]) for c in body.get("tool_calls") or []]
    if body.get("pending_approval") is not None:
        end.approvals.append(body["pending_approval"])


async def _read(api: httpx2.AsyncClient, notebook_id: str) -> checks.NotebookEnd:
    state = _ok(await api.get(f"/api/notebooks/{notebook_id}/state"))
    code = _ok(await api.get(f"/api/notebooks/{notebook_id}/code"))
    audit = _ok(await api.get(f"/api/notebooks/{notebook_id}/audit"))
    return checks.NotebookEnd(
        cells=state["cells"],
        variables=state["variables"],
        errors=state["errors"],
        file=str(code["code"]),
        audit=list(reversed(audit["entries"])),
    )


def _finder(api: httpx2.AsyncClient, main: str) -> Any:
    async def find(text: str, notebook_id: str | None) -> str:
        state = _ok(await api.get(f"/api/notebooks/{notebook_id or main}/state"))
        for cell in state["cells"]:
            if text in cell["preview"]:
                return str(cell["cell_id"])
        raise ValueError(f"the script names no cell: nothing has {text!r}")

    return find


def _ok(reply: httpx2.Response) -> dict[str, Any]:
    if reply.status_code >= 400:
        where = f"{reply.request.method} {reply.request.url.path}"
        raise ValueError(f"{where}: {reply.status_code} {reply.text[:200]}")
    body: dict[str, Any] = reply.json()
    return body


def _main_id(task: Task) -> str:
    return f"eval-{task.id}"


def _scratch() -> Path:
    folder = Path.home() / ".cache" / "hexa" / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
