"""Warm spares in the supervisor, against fake processes (no subprocess here; the real
spare is tested with real marimo in tests/integration/runtime/test_spares_real.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hexa.runtime.process import NotebookSpec
from hexa.runtime.spares import Spares
from hexa.runtime.supervisor import Limits, ProcessState, Supervisor
from tests.unit.runtime.test_supervisor import (
    FAST,
    Clock,
    FakeConnector,
    FakeProcess,
    FakeSpawner,
    Mode,
    spec,
)


def make(
    spare_script: list[Mode] | None = None, limits: Limits = FAST
) -> tuple[Supervisor, FakeSpawner, Spares]:
    spawner = FakeSpawner(spare_script=spare_script)
    connector = FakeConnector()
    spares = Spares(spawner, connector, start_timeout=limits.start_timeout, stop_timeout=1)
    sup = Supervisor(
        spawner=spawner, connector=connector, limits=limits, clock=Clock(), spares=spares
    )
    return sup, spawner, spares


async def spare_ready(spares: Spares, owner_id: int) -> None:
    async with asyncio.timeout(3):
        while not spares.ready(owner_id):
            await spares.changed.wait()


async def promised(spares: Spares, owner_id: int) -> None:
    """Once an open waits for the owner's starting spare."""
    async with asyncio.timeout(3):
        while not spares.promised(owner_id):
            await asyncio.sleep(0)


async def spare_started(spawner: FakeSpawner, count: int) -> FakeProcess:
    """The `count`th spare, once the pool waits for its health."""
    async with asyncio.timeout(3):
        while len(spawner.spares) < count:
            await asyncio.sleep(0)
        spare = spawner.spares[count - 1]
        await spare.probed.wait()
    return spare


async def test_the_next_notebook_claims_the_owners_spare_and_a_new_one_is_made() -> None:
    sup, spawner, spares = make()
    first = await sup.ensure_running(spec("a"))
    assert first.process is spawner.spawned[0]  # the first open starts cold
    await spare_ready(spares, 1)
    second = await sup.ensure_running(spec("b"))
    assert len(spawner.spawned) == 1, "no cold start for the second notebook"
    assert second.process is spawner.spares[0]
    assert spawner.spares[0].file_key == "b.py"
    assert second.state is ProcessState.RUNNING
    # Alice is at her cap (2) now: no spare is made for a notebook she cannot open.
    assert spares.count() == 0
    await sup.shutdown()


async def test_a_spare_counts_against_the_server_cap_and_gives_way_to_an_open() -> None:
    sup, spawner, spares = make()  # max_processes 3
    await sup.ensure_running(spec("a", "alice"))
    await spare_ready(spares, 1)
    await sup.ensure_running(spec("c", "bob"))
    # Two notebooks and Alice's spare fill the server: no spare for Bob.
    assert spares.owners() == {1}
    await sup.ensure_running(spec("d", "carol"))  # Alice's spare makes room
    alices_spare = spawner.spares[0]
    assert alices_spare.stopped
    assert alices_spare.file_key is None
    assert [nb.notebook_id for nb in sup.active()] == ["a", "c", "d"]
    assert spares.count() == 0
    await sup.shutdown()


async def test_closing_a_persons_last_notebook_stops_their_spare() -> None:
    sup, spawner, spares = make(limits=Limits(**{**FAST.__dict__, "max_per_user": 3}))
    await sup.ensure_running(spec("a"))
    await spare_ready(spares, 1)
    await sup.ensure_running(spec("b"))  # claims the spare; another is made
    await spare_ready(spares, 1)
    await sup.stop("a")
    assert spares.ready(1), "b is still open"
    await sup.stop("b")
    assert spares.count() == 0
    assert all(spare.stopped for spare in spawner.spares)
    await sup.shutdown()


async def test_an_open_waits_for_a_spare_that_is_starting() -> None:
    sup, spawner, spares = make([{"hold": True}])
    await sup.ensure_running(spec("a"))
    spare = await spare_started(spawner, 1)
    opening = asyncio.create_task(sup.ensure_running(spec("b")))
    await promised(spares, 1)
    assert not opening.done()
    spare.release()
    nb = await opening
    assert nb.process is spare
    assert len(spawner.spawned) == 1
    await sup.shutdown()


async def test_an_open_waiting_for_a_spare_that_is_dropped_starts_cold() -> None:
    sup, spawner, spares = make([{"hold": True}])
    await sup.ensure_running(spec("a"))
    spare = await spare_started(spawner, 1)
    opening = asyncio.create_task(sup.ensure_running(spec("b")))
    await promised(spares, 1)
    assert await spares.drop(1)  # e.g. another person's open at the server's cap
    nb = await opening
    assert nb.process is spawner.spawned[1]
    assert spare.stopped
    await sup.shutdown()


async def test_two_opens_at_once_do_not_both_wait_for_one_starting_spare() -> None:
    limits = Limits(**{**FAST.__dict__, "max_per_user": 3})
    sup, spawner, spares = make([{"hold": True}], limits=limits)
    await sup.ensure_running(spec("a"))
    spare = await spare_started(spawner, 1)
    waiting = asyncio.create_task(sup.ensure_running(spec("b")))
    await promised(spares, 1)
    cold = await sup.ensure_running(spec("c"))  # does not wait for the held spare
    assert cold.process is spawner.spawned[1]
    assert not waiting.done()
    spare.release()
    assert (await waiting).process is spare
    await sup.shutdown()


async def test_a_spare_that_died_is_not_claimed() -> None:
    sup, spawner, spares = make()
    await sup.ensure_running(spec("a"))
    await spare_ready(spares, 1)
    spawner.spares[0].die(-9)
    nb = await sup.ensure_running(spec("b"))
    assert nb.process is spawner.spawned[1], "started cold instead"
    assert spawner.spares[0].file_key is None
    await sup.shutdown()
    assert spawner.spares[0].stopped


async def test_a_spare_that_never_starts_leaves_opens_cold_and_nothing_running() -> None:
    sup, spawner, _spares = make([{"never_ready": True}])
    await sup.ensure_running(spec("a"))
    spare = await spare_started(spawner, 1)
    nb = await sup.ensure_running(spec("b"))  # waits out the spare's start timeout
    assert nb.process is spawner.spawned[1]
    assert spare.stopped
    await sup.shutdown()


async def test_a_notebook_in_a_subfolder_starts_its_own_marimo_there() -> None:
    sup, spawner, spares = make()
    await sup.ensure_running(spec("a"))
    await spare_ready(spares, 1)
    nested = NotebookSpec("n", 1, "alice", Path("/nb/sub/n.py"), Path("/nb"))
    nb = await sup.ensure_running(nested)
    assert nb.process is spawner.spawned[1]
    assert spares.ready(1), "the spare waits for a notebook in the folder itself"
    await sup.shutdown()


async def test_at_the_cap_a_subfolder_notebook_takes_the_owners_own_spares_slot() -> None:
    limits = Limits(**{**FAST.__dict__, "max_per_user": 3})  # max_processes 3
    sup, spawner, spares = make(limits=limits)
    await sup.ensure_running(spec("a"))
    await spare_ready(spares, 1)
    await sup.ensure_running(spec("b"))  # claims it; a new one fills the third slot
    await spare_ready(spares, 1)
    nested = NotebookSpec("n", 1, "alice", Path("/nb/sub/n.py"), Path("/nb"))
    await sup.ensure_running(nested)  # cannot use the spare: it gives up its slot
    assert spawner.spares[1].stopped
    assert len(sup.active()) == 3
    assert spares.count() == 0
    await sup.shutdown()


async def test_shutdown_stops_spares_ready_and_starting() -> None:
    limits = Limits(**{**FAST.__dict__, "max_processes": 4})
    sup, spawner, spares = make([{}, {"hold": True}], limits=limits)
    await sup.ensure_running(spec("a", "alice"))
    await sup.ensure_running(spec("c", "bob"))
    await spare_ready(spares, 1)
    held = await spare_started(spawner, 2)
    await sup.shutdown()
    assert spares.count() == 0
    assert spawner.spares[0].stopped
    assert held.stopped
    assert all(p.stopped for p in spawner.spawned)
