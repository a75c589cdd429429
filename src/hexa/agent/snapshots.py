"""Cell snapshots for undo: the cells before a turn, and the batch that puts them back.

The snapshot is what the turn's first batch on a notebook found there, reported by that
batch before it applied anything (`ToolContext.before_hook`), so it is exactly the
document the change applied to, a person's edit made while the model thought included.
Only when the batch reported nothing by the time its call returned (it never started,
or has not yet: it waits behind another run) is the notebook read instead, and a report
that comes later still wins (`DbLedger.snapshot`). Restoring
keeps the ids of cells that still exist (edits them back, so the editor keeps its place),
deletes the cells the turn added, recreates the ones it deleted, and fixes the order, all
in one atomic code-mode batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hexa.marimo.models import CreateCell, DeleteCell, EditCell, MoveCell, NewCell, Op, Target
from hexa.notebooks.cell_states import CellState, read_state

__all__ = ["CellState", "decode", "encode", "joined", "plan_restore", "read_state"]

SNAPSHOT_VERSION = 1


def encode(snapshots: Mapping[str, Sequence[CellState]]) -> str:
    return json.dumps(
        {
            "version": SNAPSHOT_VERSION,
            "notebooks": {
                nb: [{"id": c.cell_id, "name": c.name, "code": c.code} for c in cells]
                for nb, cells in snapshots.items()
            },
        }
    )


def decode(text: str | None) -> dict[str, list[CellState]]:
    if not text:
        return {}
    data: Any = json.loads(text)
    notebooks = data.get("notebooks") if isinstance(data, dict) else None
    if not isinstance(notebooks, dict):
        return {}
    return {
        nb: [CellState(str(c["id"]), c.get("name"), str(c.get("code", ""))) for c in cells]
        for nb, cells in notebooks.items()
    }


def joined(cells: Sequence[CellState]) -> str:
    """A notebook's cells as one text (for the audit log's before/after)."""
    return "\n\n".join(f"# cell {c.cell_id}\n{c.code}" for c in cells)


def plan_restore(target: Sequence[CellState], current: Sequence[CellState]) -> list[Op]:
    """Operations that turn `current` into `target` ([] when they already match)."""
    now = {c.cell_id: c for c in current}
    wanted = {c.cell_id for c in target}
    ops: list[Op] = [DeleteCell(c.cell_id) for c in current if c.cell_id not in wanted]
    order: list[str] = [c.cell_id for c in current if c.cell_id in wanted]  # simulated
    refs: list[Target] = []
    created = 0
    for cell in target:
        existing = now.get(cell.cell_id)
        if existing is not None:
            code = cell.code if existing.code != cell.code else None
            name = (cell.name or "_") if existing.name != cell.name else None
            if code is not None or name is not None:
                ops.append(EditCell(cell.cell_id, code=code, name=name, run=code is not None))
            refs.append(cell.cell_id)
            continue
        label = f"new{created}"
        if refs:
            after = refs[-1]
            ops.append(CreateCell(cell.code, after=after, name=cell.name, run=True))
            anchor = after if isinstance(after, str) else f"new{after.index}"
            order.insert(order.index(anchor) + 1, label)
        elif order:
            ops.append(CreateCell(cell.code, before=order[0], name=cell.name, run=True))
            order.insert(0, label)
        else:
            ops.append(CreateCell(cell.code, name=cell.name, run=True))
            order.append(label)
        refs.append(NewCell(created))
        created += 1
    labels = [r if isinstance(r, str) else f"new{r.index}" for r in refs]
    if order != labels:
        # Chaining every cell after its predecessor leaves exactly the target order.
        ops.extend(MoveCell(refs[i], after=refs[i - 1]) for i in range(1, len(refs)))
    return ops


def spare_later_edits(
    before: Sequence[CellState], after: Sequence[CellState] | None, current: Sequence[CellState]
) -> tuple[list[CellState], list[str]]:
    """The cells to restore, sparing what changed after the turn; and the spared ids.

    `after` is how the turn left the notebook. A cell whose code changed since, a cell
    deleted since (one the turn added included), and a cell added since were the
    person's doing: undo leaves each as it is now and says so. Without `after` (a turn
    stored before it was kept) everything is restored as before.
    """
    if after is None:
        return list(before), []
    now = {c.cell_id: c for c in current}
    left = {c.cell_id: c for c in after}
    was = {c.cell_id for c in before}
    spared: list[str] = []
    target: list[CellState] = []
    for cell in before:
        cur, aft = now.get(cell.cell_id), left.get(cell.cell_id)
        if aft is not None and cur is None:
            spared.append(cell.cell_id)  # deleted after the turn: it stays deleted
        elif aft is not None and cur is not None and cur.code != aft.code:
            spared.append(cell.cell_id)
            target.append(cur)
        else:
            target.append(cell)
    for index, cur in enumerate(current):
        added_later = cur.cell_id not in left and cur.cell_id not in was
        agents_then_edited = (
            cur.cell_id in left and cur.cell_id not in was and cur.code != left[cur.cell_id].code
        )
        if not (added_later or agents_then_edited):
            continue
        spared.append(cur.cell_id)
        ids = [c.cell_id for c in target]
        before_it = [c.cell_id for c in current[:index] if c.cell_id in ids]
        at = ids.index(before_it[-1]) + 1 if before_it else 0
        target.insert(at, cur)
    # Cells the turn added that are gone: deleted since; nothing to take back, but said.
    spared.extend(c.cell_id for c in after if c.cell_id not in was and c.cell_id not in now)
    return target, spared


def changed(before: str | None, after: str | None) -> bool:
    """Whether a stored turn changed any cell (unknown, so yes, without `after`)."""
    if not before:
        return False
    if after is None:
        return True
    return decode(before) != decode(after)
