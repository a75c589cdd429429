"""Running a notebook to see which cells fail: an interface and a subprocess implementation.

The generators only need "run this text, tell me which cells raised"; a caller with a live
marimo kernel at hand can pass its own `NotebookRunner` instead of starting a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hexa.sandbox import Bind, Jail, PlainSandbox, Sandbox, sandbox_environment

_OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class CellRunError:
    """A cell that raised. `cell_index` is its 0-based position among the notebook's cells
    (None for an error outside any cell); `line` is the line in the notebook file."""

    cell_index: int | None
    error_type: str
    message: str
    line: int | None = None
    cell_name: str | None = None
    cell_id: str | None = None
    traceback: str = ""

    def describe(self) -> str:
        where = f"cell {self.cell_index}" if self.cell_index is not None else "notebook"
        line = f", line {self.line}" if self.line is not None else ""
        return f"{where}{line}: {self.error_type}: {self.message}"


@dataclass(frozen=True)
class RunReport:
    """What a run found. `ok` means every cell ran without raising."""

    errors: tuple[CellRunError, ...] = ()
    skipped: tuple[int, ...] = ()  # cells not run because an ancestor failed
    timed_out: bool = False
    duration: float = 0.0
    output: str = field(default="", repr=False)  # tail of the notebook's stdout/stderr

    @property
    def ok(self) -> bool:
        return not self.errors and not self.timed_out

    def errors_for(self, cell_index: int) -> tuple[CellRunError, ...]:
        return tuple(e for e in self.errors if e.cell_index == cell_index)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class NotebookRunner(Protocol):
    async def run(self, text: str) -> RunReport:
        """Run the notebook `text` once, top to bottom, and report per-cell errors."""
        ...


class SubprocessRunner:
    """Runs the notebook in a fresh `python -m hexa.generate.run_driver` process.

    The process gets its own session (killed as a group on timeout), a private temporary
    directory (under `scratch_dir` when given) as cwd and as HOME/XDG_* (marimo writes
    there), no stdin, and files rather than pipes for its output, so a chatty notebook
    cannot block it. matplotlib's font cache is kept in `scratch_dir` (or a per-user temp
    directory) across runs: building it in a fresh HOME costs ~2.5 s per run. `files` are
    copied beside the notebook before each run: the data it reads by relative name.
    """

    def __init__(
        self,
        *,
        timeout: float = 120.0,
        python: str | None = None,
        scratch_dir: Path | None = None,
        sandbox: Sandbox | None = None,
        files: Sequence[Path] = (),
    ) -> None:
        self.timeout = timeout
        self.files = tuple(files)
        self.python = python or sys.executable
        self.scratch_dir = scratch_dir
        # Model-written code runs confined like a notebook: only its run folder writable.
        self.sandbox: Sandbox = sandbox or PlainSandbox()

    async def run(self, text: str) -> RunReport:
        root = self.scratch_dir or Path(tempfile.gettempdir())
        cache = root / f"hexa-run-cache-{os.getuid()}"
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="hexa-run-", dir=self.scratch_dir) as tmp:
            return await self._run_in(Path(tmp), text, cache)

    async def _run_in(self, tmp: Path, text: str, cache: Path) -> RunReport:
        notebook, result_file, log_file = (
            tmp / "notebook.py",
            tmp / "result.json",
            tmp / "output.log",
        )
        notebook.write_text(text, encoding="utf-8")
        for data in self.files:
            shutil.copyfile(data, tmp / data.name)
        home = tmp / "home"
        home.mkdir()
        jail = Jail(
            name=f"run-{tmp.name.removeprefix('hexa-run-')}",
            owner_id=0,
            owner="runner",
            binds=(Bind(tmp, tmp), Bind(cache, cache)),
            cwd=tmp,
        )
        command = [self.python, "-m", "hexa.generate.run_driver", str(notebook), str(result_file)]
        launch = self.sandbox.launch(command, jail)
        started = time.monotonic()
        user = launch.identity.name if launch.identity is not None else "hexa-runner"
        try:
            with log_file.open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    *launch.argv,
                    cwd=tmp,
                    env=sandbox_environment(home, user=user, extra=_run_env(cache)),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
                timed_out = False
                try:
                    await asyncio.wait_for(process.wait(), self.timeout)
                except TimeoutError:
                    timed_out = True
                finally:
                    if process.returncode is None:
                        _kill_group(process.pid)
                        await process.wait()
        finally:
            await asyncio.to_thread(launch.confinement.release)
        duration = time.monotonic() - started
        output = _tail(log_file)
        if timed_out:
            error = CellRunError(None, "TimeoutError", f"the run took over {self.timeout:g} s")
            return RunReport((error,), (), True, duration, output)
        try:
            raw = json.loads(result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            message = f"the run process exited with code {process.returncode} without a result"
            return RunReport(
                (CellRunError(None, "RunnerError", message),), (), False, duration, output
            )
        return _report(raw, duration, output)


def _report(raw: dict[str, Any], duration: float, output: str) -> RunReport:
    if raw.get("load_error"):
        # The file itself failed to load: one error, outside any cell.
        return RunReport((_cell_error(raw["load_error"]),), (), False, duration, output)
    errors = tuple(_cell_error(item) for item in raw.get("errors", []))
    skipped = tuple(int(i) for i in raw.get("skipped", []))
    return RunReport(errors, skipped, False, duration, output)


def _cell_error(item: dict[str, Any]) -> CellRunError:
    """One error as `run_driver` writes it (a load error has no cell fields: all None)."""
    return CellRunError(
        cell_index=item.get("cell_index"),
        error_type=str(item.get("error_type", "Error")),
        message=str(item.get("message", "")),
        line=item.get("line"),
        cell_name=item.get("cell_name"),
        cell_id=item.get("cell_id"),
        traceback=str(item.get("traceback", "")),
    )


def _run_env(cache: Path) -> dict[str, str]:
    return {
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(cache / "matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _OUTPUT_TAIL))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
