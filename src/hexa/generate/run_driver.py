"""Child-process entry: run a notebook's cells and write per-cell errors as JSON.

`python -m hexa.generate.run_driver NOTEBOOK RESULT_JSON`

It does what `python notebook.py` (`app.run()`) does, with one change: marimo's script
runner stops at the first failing cell, while this one records the error, skips that cell's
descendants (as marimo's kernel does) and runs every other cell, so one run reports every
independent failure. Only ever run in a subprocess: the notebook's code runs here.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from typing import Any

_TRACEBACK_LIMIT = 4000


def main(argv: list[str]) -> int:
    notebook, result_path = os.path.abspath(argv[0]), argv[1]
    result = run(notebook)
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


def run(notebook: str) -> dict[str, Any]:
    try:
        # Executing the file defines `app`, registers its cells and runs `with app.setup:`,
        # exactly as `python notebook.py` does before `app.run()`.
        namespace = runpy.run_path(notebook, run_name="__hexa_run__")
        app = namespace.get("app")
        if app is None:
            raise RuntimeError("the file defines no `app`")
        from marimo._ast.app import InternalApp

        internal = InternalApp(app)
        internal.graph  # noqa: B018  # builds the graph; raises on cycles and redefinitions
    except BaseException as exc:
        return {"load_error": _describe(exc, notebook), "errors": [], "skipped": [], "cells": 0}

    cell_ids = list(internal.cell_manager.cell_ids())
    errors: list[dict[str, Any]] = []
    handled: set[str] = set()

    from marimo._runtime.app.script_runner import AppScriptRunner

    class CollectingRunner(AppScriptRunner):  # type: ignore[misc]  # marimo is untyped here
        def _handle_run_result(self, cid: Any, result: Any, outputs: Any) -> None:
            handled.add(cid)
            try:
                super()._handle_run_result(cid, result, outputs)
            except BaseException as exc:  # marimo re-raises the cell's own exception
                error = _describe(exc, notebook)
                error["cell_index"] = cell_ids.index(cid) if cid in cell_ids else None
                error["cell_id"] = str(cid)
                error["cell_name"] = str(internal.cell_manager.cell_data_at(cid).name)
                errors.append(error)
                self._scheduler.cancel(cid)

    setup = getattr(app, "_setup", None)
    globals_ = dict(setup._glbls) if setup is not None else {}
    try:
        CollectingRunner(internal, filename=notebook, glbls=globals_).run()
    except BaseException as exc:
        errors.append({**_describe(exc, notebook), "cell_index": None, "cell_id": None})
    skipped = [
        index
        for index, cid in enumerate(cell_ids)
        if cid not in handled and cid != "setup" and not internal.graph.is_disabled(cid)
    ]
    return {"load_error": None, "errors": errors, "skipped": skipped, "cells": len(cell_ids)}


def _describe(exc: BaseException, notebook: str) -> dict[str, Any]:
    # marimo wraps a cell's exception; the user's own is the cause.
    user = (
        exc.__cause__
        if exc.__cause__ is not None and type(exc).__module__.startswith("marimo")
        else exc
    )
    frames = [f for f in traceback.extract_tb(user.__traceback__) if f.filename == notebook]
    line = frames[-1].lineno if frames else getattr(user, "lineno", None)
    text = "".join(traceback.format_exception(user))
    return {
        "error_type": type(user).__name__,
        "message": str(user),
        "line": line if isinstance(line, int) else None,
        "traceback": text[-_TRACEBACK_LIMIT:],
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
