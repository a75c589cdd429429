"""SubprocessRunner against real marimo: every failing cell, isolation, timeouts."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from hexa.generate import SubprocessRunner
from hexa.sandbox import bwrap_works

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAILING = """import marimo

app = marimo.App()


@app.cell
def _():
    x = 1
    return (x,)


@app.cell
def _(x):
    y = x / 0
    return (y,)


@app.cell
def _(y):
    z = y + 1
    return


@app.cell
def _(x):
    w = undefined_name + x
    return


@app.cell
def _():
    print("still runs")
    return


if __name__ == "__main__":
    app.run()
"""


def notebook(*cells: str) -> str:
    body = "\n\n".join(
        "@app.cell\ndef _():\n"
        + "".join(f"    {line}\n" for line in cell.splitlines())
        + "    return\n"
        for cell in cells
    )
    guard = "if __name__ == '__main__':\n    app.run()\n"
    return f"import marimo\n\napp = marimo.App()\n\n\n{body}\n\n{guard}"


async def test_reports_every_failing_cell_and_skips_descendants(runner: SubprocessRunner) -> None:
    report = await runner.run(FAILING)
    assert not report.ok
    assert [(e.cell_index, e.error_type, e.line) for e in report.errors] == [
        (1, "ZeroDivisionError", 14),
        (3, "NameError", 26),
    ]
    assert "undefined_name" in report.errors[1].message
    assert "y = x / 0" in report.errors[0].traceback
    assert report.skipped == (2,)
    assert "still runs" in report.output


async def test_a_clean_notebook_is_ok(runner: SubprocessRunner) -> None:
    report = await runner.run(notebook("a = 1", "print('hi')"))
    assert report.ok
    assert report.errors == ()
    assert report.duration > 0


async def test_graph_errors_are_reported_for_the_notebook(runner: SubprocessRunner) -> None:
    report = await runner.run(notebook("a = 1", "a = 2"))
    (error,) = report.errors
    assert error.cell_index is None
    assert error.error_type == "MultipleDefinitionError"


async def test_isolated_home_and_environment(
    runner: SubprocessRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEXA_TEST_SECRET", "do-not-leak")
    # Only its output leaves the (possibly sandboxed) run: the cell prints what it saw.
    cell = (
        "import json, os, pathlib\n"
        "print('SEEN', json.dumps("
        "{'home': str(pathlib.Path.home()), 'cwd': os.getcwd(), 'env': sorted(os.environ)}))"
    )
    report = await runner.run(notebook(cell))
    assert report.ok, report.errors
    line = next(x for x in report.output.splitlines() if x.startswith("SEEN "))
    seen = json.loads(line.removeprefix("SEEN "))
    assert seen["home"].startswith(str(runner.scratch_dir))
    assert seen["home"] != os.environ.get("HOME")
    assert seen["cwd"].startswith(str(runner.scratch_dir))
    assert "HEXA_TEST_SECRET" not in seen["env"]
    # Each run's directory is removed afterwards.
    assert not await asyncio.to_thread(os.path.exists, seen["cwd"])


async def test_timeout_kills_the_whole_process_group(scratch_dir: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # Neither the cell nor its child ends by itself: the run returns only through the
    # timeout (a runner waiting on the child's pipes would never return), and the child is
    # gone afterwards only if the timeout killed the whole group.
    cell = (
        "import subprocess, time, pathlib\n"
        "_child = subprocess.Popen(['sleep', '100000'])\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(_child.pid))\n"
        "time.sleep(100000)"
    )
    runner = SubprocessRunner(timeout=8, scratch_dir=scratch_dir)
    report = await runner.run(notebook(cell))
    assert report.timed_out
    assert not report.ok
    assert report.errors[0].error_type == "TimeoutError"
    pid = int(pid_file.read_text())
    assert not _alive(pid)


async def test_chatty_output_is_kept_short(runner: SubprocessRunner) -> None:
    report = await runner.run(notebook("for _i in range(20000):\n    print('x' * 100)"))
    assert report.ok
    assert 0 < len(report.output) <= 4000


def _alive(pid: int) -> bool:
    for _ in range(50):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        if "\nState:\tZ" in status:
            return False  # killed; waiting for its new parent to reap it
        time.sleep(0.1)
    return True


@pytest.mark.skipif(bwrap_works(as_root=os.geteuid() == 0) is not None, reason="no bubblewrap here")
async def test_model_written_code_runs_sandboxed(runner: SubprocessRunner, data_dir: Path) -> None:
    os.environ["HEXA_PROBE_SECRET"] = "sk-probe"
    try:
        report = await runner.run(
            notebook(
                f"open({str(data_dir / 'hexa.db')!r}).read()",
                "import os as _os\nassert 'HEXA_PROBE_SECRET' not in _os.environ, 'leaked'",
                "import os as _os\nassert len([p for p in _os.listdir('/proc') if p.isdigit()]) < 9",  # noqa: E501
            )
        )
    finally:
        del os.environ["HEXA_PROBE_SECRET"]
    assert [e.error_type for e in report.errors] == ["FileNotFoundError"], report.errors
