"""marimo's editor saves, mended for changes the editor had not heard of yet.

marimo's editor saves (autosave, a second after an edit) by posting its whole cell list to
`api/kernel/save`, and marimo makes its document and the file match that list. A save
built just before the editor heard of a change made through code mode (an agent's batch,
the API) takes that change back: the cell just added is deleted, the one just deleted
comes back, the edit is reverted, until the editor's next save puts it right about a
second later. Whatever reads the notebook in that second (undo, the agent's next step)
sees the wrong cells.

Hexa makes every code-mode change, and its interpreter reports what marimo applied (the
`Applied` record) before marimo tells the editors. `mend` puts into a save what each
recent record changed and the save does not show, and nothing else:
- a created cell the save lacks is added after its nearest neighbour the save has;
- a deleted cell the save still has is dropped;
- a code or name is taken only where the save still has the value the batch replaced;
- order and configs stay the editor's.

A person's own later change to a cell wins: `touches` reads what an editor's request
writes (a document transaction, a delete), and the caller leaves that alone in the records
known then: a cell's presence, its code, its name, each on its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hexa.marimo.errors import MarimoError

SAVE_PATH = "api/kernel/save"
# An editor's requests that write cells to marimo's document. (A run only queues cells.)
WRITE_PATHS = frozenset({"api/document/transaction", "api/kernel/delete"})

# What of a cell a change writes: its presence (created, deleted), its code, its name.
Part = tuple[str, str]  # (cell id, "cell" | "code" | "name")
_PARTS = {"create-cell": "cell", "delete-cell": "cell", "set-code": "code", "set-name": "name"}


@dataclass(frozen=True)
class NewCell:
    code: str
    name: str  # "_" for none, as a save names it
    config: dict[str, Any]


@dataclass(frozen=True)
class Applied:
    """What marimo applied for one code-mode batch."""

    stamp: int  # the kernel's monotonic clock when it applied: orders the batches
    created: Mapping[str, NewCell] = field(default_factory=dict)
    deleted: frozenset[str] = frozenset()
    # id: (the old code's `digest`, the new code)
    codes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    names: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id: (old, new)
    order: tuple[str, ...] = ()  # every cell, as the batch left them

    @property
    def parts(self) -> frozenset[Part]:
        """What of which cells the batch changed."""
        return frozenset(
            [(c, "cell") for c in (*self.created, *self.deleted)]
            + [(c, "code") for c in self.codes]
            + [(c, "name") for c in self.names]
        )

    @classmethod
    def from_report(cls, report: Any) -> Applied | None:
        """The interpreter's report (see hexa.marimo.program), None when it says marimo
        had nothing to apply; MarimoError when malformed."""
        if isinstance(report, dict) and report.get("none") is True:
            return None
        try:
            old: dict[str, list[str | None]] = report["old"]
            created: dict[str, NewCell] = {}
            deleted: set[str] = set()
            codes: dict[str, tuple[str, str]] = {}
            names: dict[str, tuple[str, str]] = {}
            for change in report["changes"]:
                kind = change["type"]
                if kind == "create-cell":
                    config = change.get("config")
                    created[str(change["cellId"])] = NewCell(
                        str(change["code"]),
                        _save_name(change.get("name")),
                        config if isinstance(config, dict) else {},
                    )
                elif kind == "delete-cell":
                    deleted.add(str(change["cellId"]))
                elif kind in ("set-code", "set-name"):
                    cid = str(change["cellId"])
                    if cid in created:  # made and changed in one batch: the latest wins
                        made = created[cid]
                        created[cid] = (
                            NewCell(str(change["code"]), made.name, made.config)
                            if kind == "set-code"
                            else NewCell(made.code, _save_name(change["name"]), made.config)
                        )
                    elif cid in old:
                        was_name, was_code = old[cid]
                        if kind == "set-code":
                            first = codes.get(cid, (str(was_code), ""))[0]
                            codes[cid] = (first, str(change["code"]))
                        else:
                            first = names.get(cid, (_save_name(was_name), ""))[0]
                            names[cid] = (first, _save_name(change["name"]))
            return cls(
                stamp=int(report["stamp"]),
                created=created,
                deleted=frozenset(deleted),
                codes=codes,
                names=names,
                order=tuple(str(c) for c in report["order"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MarimoError(f"code mode reported malformed changes: {exc!r}") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "stamp": self.stamp,
            "created": {k: [v.code, v.name, v.config] for k, v in self.created.items()},
            "deleted": sorted(self.deleted),
            "codes": {k: list(v) for k, v in self.codes.items()},
            "names": {k: list(v) for k, v in self.names.items()},
            "order": list(self.order),
        }

    @classmethod
    def from_json(cls, data: Any) -> Applied:
        """What `to_json` made (from another replica); MarimoError when malformed."""
        try:
            return cls(
                stamp=int(data["stamp"]),
                created={
                    str(k): NewCell(str(code), str(name), dict(config))
                    for k, (code, name, config) in data["created"].items()
                },
                deleted=frozenset(str(c) for c in data["deleted"]),
                codes={str(k): (str(a), str(b)) for k, (a, b) in data["codes"].items()},
                names={str(k): (str(a), str(b)) for k, (a, b) in data["names"].items()},
                order=tuple(str(c) for c in data["order"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MarimoError(f"malformed changes from another replica: {exc!r}") from exc


class BatchWatch(Protocol):
    """Watches one code-mode batch that may change cells, from when it is sent."""

    def applied(self, applied: Applied) -> None:
        """marimo applied the batch (it is about to tell the editors)."""

    def close(self) -> None:
        """Nothing (more) to wait for: marimo said it had nothing to apply, or the call
        ended. May be called again, and `applied` may still follow the first."""


def digest(code: str) -> str:
    """How a report names a cell's old code (as the interpreter computes it)."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def _save_name(name: Any) -> str:
    return "_" if name in (None, "") else str(name)


def touches(path: str, body: bytes) -> frozenset[Part]:
    """What an editor's request to `path` writes (nothing when it cannot be read: marimo
    refuses what it cannot read either). Moves and configs are left out: those of a save
    are always the editor's."""
    try:
        data = json.loads(body)
    except ValueError:
        return frozenset()
    if not isinstance(data, dict):
        return frozenset()
    if path == "api/document/transaction":
        changes = data.get("changes")
        if not isinstance(changes, list):
            return frozenset()
        return frozenset(
            (str(c["cellId"]), _PARTS[str(c["type"])])
            for c in changes
            if isinstance(c, dict) and "cellId" in c and c.get("type") in _PARTS
        )
    if path == "api/kernel/delete" and "cellId" in data:
        return frozenset([(str(data["cellId"]), "cell")])
    return frozenset()


@dataclass
class _Cell:
    cell_id: str
    code: str
    name: str
    config: Any


def mend(
    body: bytes, records: Sequence[tuple[Applied, Collection[Part]]]
) -> tuple[bytes, list[str]] | None:
    """The save `body` with what `records` (of the marimo the save goes to) changed and it
    does not show, oldest record first, each with what a person wrote since (left alone);
    with a line per change made. None when nothing needed mending or the body is no save
    marimo would take."""
    cells = _read_save(body)
    if cells is None:
        return None
    was = [dataclasses.astuple(c) for c in cells]
    notes: list[str] = []
    for record, spared in sorted(records, key=lambda r: r[0].stamp):
        notes += _apply(cells, record, set(spared))
    if [dataclasses.astuple(c) for c in cells] == was:
        return None
    save: dict[str, Any] = json.loads(body)
    save["cellIds"] = [c.cell_id for c in cells]
    save["codes"] = [c.code for c in cells]
    save["names"] = [c.name for c in cells]
    save["configs"] = [c.config for c in cells]
    return json.dumps(save).encode(), notes


def _read_save(body: bytes) -> list[_Cell] | None:
    try:
        save = json.loads(body)
    except ValueError:
        return None
    if not isinstance(save, dict):
        return None
    ids, codes, names, configs = (save.get(k) for k in ("cellIds", "codes", "names", "configs"))
    if not (
        isinstance(ids, list)
        and isinstance(codes, list)
        and isinstance(names, list)
        and isinstance(configs, list)
    ):
        return None
    if not len(ids) == len(codes) == len(names) == len(configs):
        return None
    if not all(isinstance(v, str) for v in (*ids, *codes, *names)):
        return None
    return [_Cell(*row) for row in zip(ids, codes, names, configs, strict=True)]


def _apply(cells: list[_Cell], record: Applied, spared: set[Part]) -> list[str]:
    notes: list[str] = []
    by_id = {c.cell_id: c for c in cells}
    for cid in sorted(record.deleted):
        if cid in by_id and (cid, "cell") not in spared:
            cells.remove(by_id.pop(cid))
            notes.append(f"dropped {cid}")
    for cid, (old, new) in record.codes.items():
        cell = by_id.get(cid)
        if cell is not None and digest(cell.code) == old and (cid, "code") not in spared:
            cell.code = new
            notes.append(f"code of {cid}")
    for cid, (old, new) in record.names.items():
        cell = by_id.get(cid)
        if cell is not None and cell.name == old and (cid, "name") not in spared:
            cell.name = new
            notes.append(f"name of {cid}")
    for cid in _in_order(record.created, record.order):
        if cid in by_id or (cid, "cell") in spared:
            continue
        made = record.created[cid]
        cell = _Cell(cid, made.code, made.name, made.config)
        cells.insert(_place(cells, cid, record.order), cell)
        by_id[cid] = cell
        notes.append(f"added {cid}")
    return notes


def _in_order(created: Iterable[str], order: Sequence[str]) -> list[str]:
    rank = {cid: i for i, cid in enumerate(order)}
    return sorted(created, key=lambda cid: rank.get(cid, len(rank)))


def _place(cells: Sequence[_Cell], cid: str, order: Sequence[str]) -> int:
    """Where `cid` goes: after the nearest cell before it (in `order`) that `cells` has."""
    at = {c.cell_id: i for i, c in enumerate(cells)}
    if cid not in order:
        return len(cells)
    for earlier in reversed(order[: order.index(cid)]):
        if earlier in at:
            return at[earlier] + 1
    return 0
