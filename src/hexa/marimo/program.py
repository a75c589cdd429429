"""The Python programs Hexa runs in a kernel through code mode (research §4D).

User strings never become code: every program is the same fixed interpreter, and the
request (cell code, names, targets) reaches it as one JSON document embedded as a Python
string literal (`repr` of ASCII-only JSON, which is always a valid literal). The
interpreter prints one result line that starts with a per-call random marker, so a cell
that happens to print something similar cannot forge a result.

The interpreter is compiled once per kernel. Each call sends a loader that holds it as one
string literal and finds it in `sys.modules` (under a name that carries a hash of its
source, so a kernel that outlives an upgrade of Hexa loads the new one), compiling it only
when it is not there yet. marimo compiles and walks every scratchpad program; with the
interpreter as code in each one, that was half of the kernel's work for a one-line edit,
where a literal is a single constant to it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from hexa.marimo.models import (
    CreateCell,
    DeleteCell,
    EditCell,
    MoveCell,
    NewCell,
    Op,
    PutCells,
    RunCell,
    RunStale,
    Target,
)

# The interpreter: a module, called from marimo's scratchpad (which executes with a copy of
# the notebook globals, so nothing the loader defines leaks into the notebook) with the
# scratchpad's globals, where the charts are looked up.
_INTERPRETER = r"""
async def main(req, space):
    import json
    import keyword
    import marimo._code_mode as cm

    def emit(payload):
        print("\n" + req["marker"] + json.dumps(payload), flush=True)

    if req["kind"] == "read":
        emit({"ok": True, "cells": _hexa_read(cm.get_context().cells, req["limit"])})
        return
    if req["kind"] == "charts":
        emit({"ok": True, "charts": _hexa_charts(space, req["names"])})
        return

    created = []
    put = []
    changes = False  # whether marimo may have anything to apply (and so to report)
    unwatch = []
    failed = []

    def fail(payload):
        failed.append(payload)
        emit(dict(payload, ok=False))
        raise LookupError(payload.get("message") or payload["error"])

    def resolve(ctx, ref):
        if ref is None:
            return None
        if "new" in ref:
            index = ref["new"]
            if not 0 <= index < len(created):
                fail({"error": "bad_ref", "message": "no new cell #%d in this batch" % index})
            return created[index]
        if ref["cell"] not in ctx.cells:
            fail({"error": "not_found", "target": ref["cell"]})
        return ref["cell"]

    def states(ctx):
        return [[str(c.id), None if c.name in (None, "", "_") else c.name, c.code]
                for c in ctx.cells]

    try:
        async with cm.get_context(skip_staleness_check=True) as ctx:
            found = states(ctx) if req.get("before") or req.get("applied") else None
            if req.get("before"):
                # The document this batch applies to, printed (and so streamed) before
                # anything is applied or run: the caller's undo snapshot.
                print("\n" + req["before"] + json.dumps(found), flush=True)
            if req.get("applied"):
                unwatch.append(_hexa_watch_applied(ctx, req["applied"], found))
            for op in req["ops"]:
                kind = op["op"]
                if kind == "create":
                    cid = ctx.create_cell(
                        op["code"],
                        after=resolve(ctx, op.get("after")),
                        before=resolve(ctx, op.get("before")),
                        name=op.get("name"),
                        hide_code=op.get("hide_code", False),
                    )
                    created.append(cid)
                    changes = True
                    if op.get("run"):
                        ctx.run_cell(cid)
                elif kind == "edit":
                    target = resolve(ctx, op["target"])
                    code, name = op.get("code"), op.get("name")
                    if "cell" in op["target"]:
                        cell = ctx.cells[target]
                        expected = op.get("expected_code")
                        if expected is not None and cell.code != expected:
                            fail({"error": "conflict", "target": target, "code": cell.code})
                        changes = changes or (code is not None and code != cell.code) or (
                            name is not None and name != cell.name)
                    else:
                        changes = True
                    ctx.edit_cell(target, code=code, name=name)
                    if op.get("run"):
                        ctx.run_cell(target)
                elif kind == "move":
                    changes = True
                    ctx.move_cell(
                        resolve(ctx, op["target"]),
                        after=resolve(ctx, op.get("after")),
                        before=resolve(ctx, op.get("before")),
                    )
                elif kind == "delete":
                    changes = True
                    ctx.delete_cell(resolve(ctx, op["target"]))
                elif kind == "run":
                    ctx.run_cell(resolve(ctx, op["target"]))
                elif kind == "run_stale":
                    for cell in ctx.cells:
                        if cell.status == "stale":
                            ctx.run_cell(cell.id)
                elif kind == "put":
                    previous = None
                    for key, code in op["cells"]:
                        cell = next((c for c in ctx.cells if str(c.id) == key), None)
                        if cell is None:
                            cell = next((c for c in ctx.cells if c.name == key
                                         and key not in ("", "_")), None)
                        if cell is not None:
                            cid, before = cell.id, cell.code
                            if before != code:
                                ctx.edit_cell(cid, code=code)
                                changes = True
                        else:
                            changes = True
                            usable = (key.isidentifier() and not keyword.iskeyword(key)
                                      and not key.startswith("_"))
                            cid, before = ctx.create_cell(
                                code, after=previous, name=key if usable else None,
                                hide_code=False), None
                        ctx.run_cell(cid)
                        put.append({"id": str(cid), "before": before})
                        previous = cid
                elif kind == "replace":
                    changes = True
                    for cell in list(ctx.cells):
                        ctx.delete_cell(cell.id)
                    for spec in op["cells"]:
                        cid = ctx.create_cell(
                            spec["code"], name=spec.get("name"), hide_code=False
                        )
                        created.append(cid)
                        if op.get("run"):
                            ctx.run_cell(cid)
                else:
                    fail({"error": "bad_op", "message": "unknown op %r" % kind})
            if req.get("applied") and not changes:
                # Nothing for marimo to apply: said now, not after the runs.
                print("\n" + req["applied"] + json.dumps({"none": True}), flush=True)
    except Exception as exc:
        # Raised before or while marimo validated the batch: nothing was applied.
        if not failed:
            emit({"ok": False, "error": "invalid", "type": type(exc).__name__,
                  "message": str(exc)})
        raise
    finally:
        for undo in unwatch:
            undo()
    done = {"ok": True, "created": [str(c) for c in created]}
    if put:
        done["put"] = put
    if req.get("cells"):
        # The document as this batch left it (marimo applied it to the context's copy).
        done["cells"] = states(ctx)
    emit(done)


def _hexa_watch_applied(ctx, prefix, found):
    # What the batch changes, printed the moment marimo has applied it and before it
    # tells the editors (and before any cell runs): the proxy needs it to mend an editor's
    # save built before the editor heard of the change.
    import hashlib
    import json
    import time

    import msgspec

    send = ctx.broadcast_raw_notification
    old = {cid: (name, code) for cid, name, code in found}

    def was(cid):
        # The old code as a digest: the report stays short (marimo cuts a console write
        # at 1 MB).
        name, code = old[cid]
        return [name, hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()]

    def watched(notification):
        try:
            tx = getattr(notification, "transaction", None)
            if tx is not None:
                changes = json.loads(msgspec.json.encode(tx.changes))
                # Old values only where a value is set: a deleted cell's code is not needed
                # (and a long report would pass marimo's 1 MB cut of a console write).
                touched = {c.get("cellId") for c in changes
                           if c.get("type") in ("set-code", "set-name")}
                print("\n" + prefix + json.dumps({
                    "stamp": time.monotonic_ns(),
                    "changes": changes,
                    "old": {cid: was(cid) for cid in touched if cid in old},
                    "order": [str(c.id) for c in ctx.cells],
                }, ensure_ascii=False), flush=True)
        except Exception:
            pass
        send(notification)

    ctx.broadcast_raw_notification = watched
    return lambda: ctx.__dict__.pop("broadcast_raw_notification", None)


def _hexa_read(cells, limit):
    import html
    import json
    import re

    def clip(text):
        return text[:limit], len(text) > limit

    def render(data):
        if isinstance(data, str):
            return data
        if isinstance(data, list):
            parts = []
            for item in data:
                describe = getattr(item, "describe", None)
                parts.append(describe() if callable(describe) else repr(item))
            return "\n".join(parts)
        try:
            return json.dumps(data, default=repr)
        except Exception:
            return repr(data)

    result = []
    for cell in cells:
        output = None
        if cell.output is not None:
            data, cut = clip(render(cell.output.data))
            output = {"mimetype": str(cell.output.mimetype), "data": data, "truncated": cut}
        console = []
        for item in cell.console_outputs:
            channel = getattr(item.channel, "value", item.channel)
            text = render(item.data)
            if str(item.mimetype) == "application/vnd.marimo+traceback" and "<" in text:
                # Tracebacks of the editor's runs are syntax-highlighted HTML.
                text = html.unescape(re.sub(r"<[^>]+>", "", text))
            data, cut = clip(text)
            console.append({"channel": str(channel), "data": data, "truncated": cut})
        config = cell.config
        result.append({
            "id": str(cell.id),
            "name": cell.name,
            "code": cell.code,
            "status": None if cell.status is None else str(cell.status),
            "errors": [e.msg for e in cell.errors],
            "output": output,
            "console": console,
            "hide_code": bool(config.hide_code),
            "disabled": bool(config.disabled),
        })
    return result


def _hexa_charts(space, names):
    # Only reads the objects: attributes and to_dict(), nothing that draws or changes.
    out = {}
    seen = set()
    for name in names:
        obj = space.get(name)
        if obj is None:
            continue
        # `fig` and its `ax` are one chart: described once.
        key = id(getattr(obj, "figure", None) or obj)
        if key in seen:
            continue
        try:
            found = _hexa_chart(obj)
        except Exception:
            found = None
        if found:
            seen.add(key)
            out[name] = found
    return out


def _hexa_chart(obj):
    module = type(obj).__module__ or ""

    def label(artist):
        text = str(artist.get_label() or "")
        return "" if text.startswith("_") else text

    if module.startswith("matplotlib"):
        fig = obj if hasattr(obj, "savefig") else getattr(obj, "figure", None)
        if fig is None or not hasattr(fig, "get_axes"):
            return None
        axes = []
        for ax in fig.get_axes():
            series = []
            for line in ax.get_lines():
                series.append({"kind": "line", "label": label(line),
                               "points": len(line.get_xdata())})
            for box in getattr(ax, "containers", []):
                if type(box).__name__ == "BarContainer":
                    series.append({"kind": "bar", "label": label(box),
                                   "points": len(box.patches)})
            for coll in ax.collections:
                if type(coll).__name__ == "PathCollection":
                    series.append({"kind": "scatter", "label": label(coll),
                                   "points": len(coll.get_offsets())})
            wedges = [p for p in ax.patches if type(p).__name__ == "Wedge"]
            if wedges:
                series.append({"kind": "pie", "label": "", "points": len(wedges)})
            if ax.images:
                series.append({"kind": "image", "label": "", "points": len(ax.images)})
            ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
            try:  # numeric ticks say nothing the axis label does not
                [float(t.replace("\u2212", "-")) for t in ticks]
                ticks = []
            except ValueError:
                pass
            axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(),
                         "ylabel": ax.get_ylabel(), "series": series, "xticks": ticks[:8]})
        title = getattr(fig, "_suptitle", None)
        return {"library": "matplotlib", "title": title.get_text() if title else "",
                "axes": axes}
    if module.startswith("altair"):
        spec = obj.to_dict()
        mark = spec.get("mark")
        mark = mark.get("type") if isinstance(mark, dict) else mark
        enc = spec.get("encoding") or {}

        def field(channel):
            value = enc.get(channel) or {}
            return str(value.get("title") or value.get("field") or "")

        title = spec.get("title")
        title = title.get("text") if isinstance(title, dict) else title
        return {"library": "altair", "title": str(title or ""), "axes": [{
            "title": "", "xlabel": field("x"), "ylabel": field("y"), "xticks": [],
            "series": [{"kind": str(mark), "label": field("color"), "points": None}]}]}
    if module.startswith("plotly"):
        layout = obj.layout
        series = []
        for trace in obj.data:
            xs = getattr(trace, "x", None)
            series.append({"kind": str(trace.type), "label": str(trace.name or ""),
                           "points": None if xs is None else len(xs)})
        return {"library": "plotly", "title": str(layout.title.text or ""), "axes": [{
            "title": "", "xlabel": str(layout.xaxis.title.text or ""),
            "ylabel": str(layout.yaxis.title.text or ""), "series": series, "xticks": []}]}
    return None
"""

# The module's name in the kernel's `sys.modules`. The notebook's own code runs in that
# kernel and could replace it, but it could as well patch `marimo._code_mode`: a kernel's
# results are only ever as trusted as the person's own code there.
MODULE = "_hexa_code_mode_" + hashlib.sha256(_INTERPRETER.encode()).hexdigest()[:12]

_PLACEHOLDER = "__HEXA_REQUEST__"
# Only `_`-names are bound, which marimo keeps private to a cell: the chart lookup in
# `globals()` sees the notebook's names as they are.
_LOADER = f"""import json as _hexa_json
import sys as _hexa_sys
_hexa = _hexa_sys.modules.get({MODULE!r})
if _hexa is None:
    import types as _hexa_types
    _hexa = _hexa_types.ModuleType({MODULE!r})
    exec(compile({_INTERPRETER!r}, {MODULE!r}, "exec"), _hexa.__dict__)
    _hexa_sys.modules[{MODULE!r}] = _hexa
await _hexa.main(_hexa_json.loads({_PLACEHOLDER}), globals())
"""
# The request goes in place of the one placeholder, on the last line: were it also in the
# interpreter's literal, a request would land inside that string.
if _LOADER.count(_PLACEHOLDER) != 1 or _PLACEHOLDER in _INTERPRETER:
    raise RuntimeError("the request placeholder must appear once, outside the interpreter")


def new_marker() -> str:
    return f"__hexa_{secrets.token_hex(8)}__ "


def _target(ref: Target | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    if isinstance(ref, NewCell):
        return {"new": ref.index}
    return {"cell": ref}


def _check_place(after: Target | None, before: Target | None) -> None:
    if after is not None and before is not None:
        raise ValueError("give at most one of after= and before=")


def encode_op(op: Op) -> dict[str, Any]:
    """An operation as the interpreter's JSON."""
    if isinstance(op, CreateCell):
        _check_place(op.after, op.before)
        return {
            "op": "create",
            "code": op.code,
            "after": _target(op.after),
            "before": _target(op.before),
            "name": op.name,
            "run": op.run,
            "hide_code": op.hide_code,
        }
    if isinstance(op, EditCell):
        if op.code is None and op.name is None:
            raise ValueError("an edit needs code= or name=")
        return {
            "op": "edit",
            "target": _target(op.target),
            "code": op.code,
            "name": op.name,
            "run": op.run,
            "expected_code": op.expected_code,
        }
    if isinstance(op, MoveCell):
        _check_place(op.after, op.before)
        if op.after is None and op.before is None:
            raise ValueError("a move needs after= or before=")
        return {
            "op": "move",
            "target": _target(op.target),
            "after": _target(op.after),
            "before": _target(op.before),
        }
    if isinstance(op, DeleteCell):
        return {"op": "delete", "target": _target(op.target)}
    if isinstance(op, RunCell):
        return {"op": "run", "target": _target(op.target)}
    if isinstance(op, RunStale):
        return {"op": "run_stale"}
    if isinstance(op, PutCells):
        return {"op": "put", "cells": [[key, code] for key, code in op.cells]}
    raise TypeError(f"not an operation: {op!r}")


def _program(request: dict[str, Any]) -> str:
    # ensure_ascii keeps the literal free of characters Python source could choke on
    # (NUL, lone surrogates, U+2028); repr of a str is always a valid literal.
    literal = repr(json.dumps(request, ensure_ascii=True))
    return _LOADER.replace(_PLACEHOLDER, literal, 1)


def edit_program(
    ops: Sequence[Op],
    marker: str,
    *,
    cells: bool = False,
    before: bool = False,
    applied: bool = False,
) -> str:
    """A program that applies `ops` in one atomic code-mode batch; with `cells`, its result
    also holds every cell (id, name, code) as the batch left them; with `before`, it first
    prints them as the batch found them (a `before_marker` line); with `applied`, it prints
    the changes marimo made (an `applied_marker` line) before marimo tells the editors."""
    ops_json = [encode_op(op) for op in ops]
    request = {"kind": "edit", "marker": marker, "ops": ops_json, "cells": cells}
    return _program(request | _reports(marker, before, applied))


def _reports(marker: str, before: bool, applied: bool) -> dict[str, str]:
    return ({"before": before_marker(marker)} if before else {}) | (
        {"applied": applied_marker(marker)} if applied else {}
    )


def replace_program(
    cells: Sequence[tuple[str, str | None]],
    *,
    run: bool,
    marker: str,
    before: bool = False,
    applied: bool = False,
) -> str:
    """A program that deletes every cell and creates `cells` (code, name) in order."""
    specs = [{"code": code, "name": name} for code, name in cells]
    ops = [{"op": "replace", "cells": specs, "run": run}]
    request = {"kind": "edit", "marker": marker, "ops": ops}
    return _program(request | _reports(marker, before, applied))


def before_marker(marker: str) -> str:
    """The start of the line that holds the cells a batch found (never a result line:
    result lines start with `marker`, which ends in a space where this has a letter)."""
    return marker.rstrip() + "before "


def applied_marker(marker: str) -> str:
    """The start of the line that holds the changes marimo applied for a batch."""
    return marker.rstrip() + "applied "


def read_program(marker: str, *, limit: int) -> str:
    """A program that prints every cell (code, status, errors, clipped outputs)."""
    return _program({"kind": "read", "marker": marker, "limit": limit})


def charts_program(names: Sequence[str], marker: str) -> str:
    """A program that describes the charts (matplotlib, altair, plotly) held by `names`."""
    return _program({"kind": "charts", "marker": marker, "names": list(names)})


def find_result(stdout: str, marker: str) -> dict[str, Any] | None:
    """The interpreter's result line in `stdout`, or None when it printed none."""
    found: dict[str, Any] | None = None
    for line in stdout.splitlines():
        if line.startswith(marker):
            try:
                value = json.loads(line[len(marker) :])
            except ValueError:
                continue
            if isinstance(value, dict):
                found = value
    return found


def strip_results(stdout: str, marker: str) -> str:
    """`stdout` without the interpreter's result lines (what the cells printed)."""
    ours = (marker, before_marker(marker), applied_marker(marker))
    kept = [line for line in stdout.splitlines(keepends=True) if not line.startswith(ours)]
    return "".join(kept)
