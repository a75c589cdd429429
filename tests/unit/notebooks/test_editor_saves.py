"""`EditorSaves`: each notebook's recent code-mode changes, kept per marimo for a window,
shared with the other replicas and spared by an editor's own writes. Real objects; the
clock is a counter and the relay a list (another `EditorSaves` stands for the other
replica)."""

from __future__ import annotations

import asyncio
import json

import pytest

from hexa.marimo.saves import Applied, NewCell
from hexa.notebooks.editor_saves import EditorSaves, marimo_id


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Relay:
    """What `share` is given: keeps each message; `hold` keeps them unsent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.hold = False

    def __call__(self, notebook_id: str, text: str) -> asyncio.Future[None]:
        self.sent.append((notebook_id, text))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.hold:
            done.set_result(None)
        return done


def save_of(*cells: tuple[str, str]) -> bytes:
    return json.dumps(
        {
            "cellIds": [i for i, _ in cells],
            "codes": [code for _, code in cells],
            "names": ["_"] * len(cells),
            "configs": [{}] * len(cells),
            "filename": "nb.py",
        }
    ).encode()


def ids_of(body: bytes) -> list[str]:
    ids: list[str] = json.loads(body)["cellIds"]
    return ids


MADE = Applied(stamp=1, created={"New1": NewCell("z = 1", "_", {})}, order=("Hbol", "New1"))
STALE = save_of(("Hbol", "a = 1"))
SAVE = "api/kernel/save"
M1 = marimo_id("http://127.0.0.1:2718", "/nb/nb", "s1")
DELETE_NEW1 = b'{"changes": [{"type": "delete-cell", "cellId": "New1"}]}'


async def test_a_stale_save_is_mended_within_the_window_for_its_marimo_only() -> None:
    clock = Clock()
    saves = EditorSaves(window=10.0, clock=clock)
    saves.applied("nb", M1, MADE)
    assert ids_of(await saves.editor_request("nb", M1, SAVE, STALE)) == ["Hbol", "New1"]
    assert await saves.editor_request("other", M1, SAVE, STALE) == STALE, "another notebook"
    restarted = marimo_id("http://127.0.0.1:2718", "/nb/nb", "s2")
    assert await saves.editor_request("nb", restarted, SAVE, STALE) == STALE, "another marimo"
    clock.now += 10.5
    assert await saves.editor_request("nb", M1, SAVE, STALE) == STALE, "the person's now"


async def test_an_editors_write_spares_what_it_writes_on_every_replica() -> None:
    relay = Relay()
    here, there = EditorSaves(), EditorSaves()
    here.share(relay)
    here.applied("nb", M1, MADE)
    there.received(*relay.sent[-1])
    # Another request passes as it is, and spares nothing.
    other = b'{"cellIds": ["New1"], "codes": [""]}'
    assert await here.editor_request("nb", M1, "api/kernel/run", other) == other
    assert ids_of(await there.editor_request("nb", M1, SAVE, STALE)) == ["Hbol", "New1"]
    transaction = DELETE_NEW1
    assert await here.editor_request("nb", M1, "api/document/transaction", transaction) == (
        transaction
    )
    assert len(relay.sent) == 2
    there.received(*relay.sent[-1])
    for replica in (here, there):
        assert await replica.editor_request("nb", M1, SAVE, STALE) == STALE
    # Told once: a second write of the same sends nothing.
    await here.editor_request("nb", M1, "api/kernel/delete", b'{"cellId": "New1"}')
    assert len(relay.sent) == 2


async def test_a_write_waits_until_the_relay_has_sent_what_it_spares() -> None:
    relay = Relay()
    saves = EditorSaves()
    saves.share(relay)
    saves.applied("nb", M1, MADE)
    relay.hold = True
    write = asyncio.create_task(
        saves.editor_request("nb", M1, "api/document/transaction", DELETE_NEW1)
    )
    async with asyncio.timeout(5):
        while len(relay.sent) < 2:
            await asyncio.sleep(0)
    assert not write.done()
    # A relay that never sends holds a write back for at most a second.
    assert await write == DELETE_NEW1


async def test_what_another_replica_sends_that_cannot_be_read_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    saves = EditorSaves()
    for text in ("{", "[]", '{"applied": {"stamp": "x"}, "key": "k", "marimo": "m"}'):
        saves.received("nb", text)
    saves.applied("nb", M1, MADE)
    saves.received("nb", '{"spared": 3}')
    assert ids_of(await saves.editor_request("nb", M1, SAVE, STALE)) == ["Hbol", "New1"]
    assert caplog.text.count("could not be read") == 4


def test_records_past_the_window_are_dropped_for_every_notebook() -> None:
    clock = Clock()
    saves = EditorSaves(window=10.0, clock=clock)
    for n in range(50):
        saves.applied(f"nb{n}", M1, MADE)
    clock.now += 11
    saves.applied("last", M1, MADE)
    assert list(saves._recent) == ["last"]


async def test_a_save_waits_for_a_batch_under_way_on_its_marimo() -> None:
    saves = EditorSaves()
    batch = saves.batch("nb", M1)
    elsewhere = saves.batch("nb", marimo_id("http://127.0.0.1:2719", "/", "s9"))
    save = asyncio.create_task(saves.editor_request("nb", M1, SAVE, STALE))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not save.done()
    batch.applied(MADE)  # marimo applied it: the save goes, mended
    assert ids_of(await save) == ["Hbol", "New1"]
    # A batch that ended without changing anything lets it go as it is.
    quiet = saves.batch("other", M1)
    save = asyncio.create_task(saves.editor_request("other", M1, SAVE, STALE))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not save.done()
    quiet.close()
    assert await save == STALE
    elsewhere.close()
    assert saves._under_way == {}
