"""The relay between replicas: two real PgRelays on a real PostgreSQL (LISTEN/NOTIFY), and
the event bus's side of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from hexa.agent.events import MarimoNotification, TextDelta, TurnStarted
from hexa.cluster.relay import PART, PgRelay, _join, _split
from hexa.live import EventBus, Lagged
from tests.support.postgres import PostgresCluster


def test_a_long_message_goes_in_parts_and_comes_back_whole() -> None:
    message = {"kind": "event", "notebook_id": "n", "event": "é" * (3 * PART)}
    parts = _split(message)
    assert len(parts) > 3
    assert all(len(part) < 8000 for part in parts)
    pending: dict[str, list[str]] = {}
    joined = [_join(pending, part) for part in parts]
    assert joined[:-1] == [None] * (len(parts) - 1)
    assert joined[-1] == message
    assert pending == {}
    # A part lost on the way: the message is dropped, not garbled.
    assert [_join(pending, part) for part in parts[1:]] == [None] * (len(parts) - 1)


def test_the_bus_sends_what_its_listeners_here_would_get_but_not_local_kinds() -> None:
    sent: list[tuple[str, str]] = []
    bus = EventBus()
    bus.relay_to(lambda notebook_id, event: sent.append((notebook_id, event.model_dump_json())))
    listener = bus.subscribe("n")
    bus.publish("n", TurnStarted(turn_id="t", prompt="p"))
    bus.publish("n", MarimoNotification(op="cell-op", data={}))
    bus.publish("n", Lagged())
    assert [n for n, _ in sent] == ["n"]
    assert '"turn_started"' in sent[0][1]
    # What another replica sent is delivered here and not sent again.
    bus.deliver("n", TextDelta(turn_id="t", delta="hi"))
    assert len(sent) == 1
    got = [listener.get_nowait() for _ in range(4)]
    assert [getattr(e, "type", None) for e in got] == [
        "turn_started",
        "marimo",
        "lagged",
        "text_delta",
    ]
    assert all(e is not None and e.notebook_id == "n" for e in got)


class Heard:
    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.edits: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.stops: asyncio.Queue[str] = asyncio.Queue()
        self.lost = 0

    def on_event(self, notebook_id: str, text: str) -> None:
        self.events.put_nowait((notebook_id, text))

    def on_edits(self, notebook_id: str, text: str) -> None:
        self.edits.put_nowait((notebook_id, text))

    async def on_stop(self, notebook_id: str) -> None:
        self.stops.put_nowait(notebook_id)

    def on_lost(self) -> None:
        self.lost += 1


@pytest.fixture
async def dsn(postgres: PostgresCluster) -> AsyncIterator[str]:
    name = postgres.create_database()
    url = make_url(postgres.url(name)).set(drivername="postgresql")
    yield url.render_as_string(hide_password=False)
    postgres.drop_database(name)


async def test_events_and_stop_requests_cross_between_replicas(dsn: str) -> None:
    heard = {"a": Heard(), "b": Heard()}
    relays = {
        name: PgRelay(dsn, name, on_event=h.on_event, on_lost=h.on_lost, on_edits=h.on_edits)
        for name, h in heard.items()
    }
    for name, relay in relays.items():
        await relay.start(heard[name].on_stop)
    try:
        long = TextDelta(turn_id="t", delta="x" * 20_000)
        relays["a"].send_event("n1", TurnStarted(turn_id="t", prompt="p").model_dump_json())
        relays["a"].send_event("n1", long.model_dump_json())
        relays["a"].send_stop("b", "n2")
        relays["a"].send_edits("n1", '{"spared": {}}')
        relays["b"].send_stop("c", "n3")  # for a replica that is not listening
        async with asyncio.timeout(10):
            first = await heard["b"].events.get()
            second = await heard["b"].events.get()
            stopped = await heard["b"].stops.get()
            edits = await heard["b"].edits.get()
        assert first[0] == "n1"
        assert '"turn_started"' in first[1]
        assert second == ("n1", long.model_dump_json())
        assert stopped == "n2"
        assert edits == ("n1", '{"spared": {}}')
        # Each replica hears its own messages too, and ignores them; a marker sent after
        # them shows A heard nothing before it.
        relays["b"].send_event("marker", Lagged().model_dump_json())
        async with asyncio.timeout(10):
            assert (await heard["a"].events.get())[0] == "marker"
        assert heard["a"].stops.empty()
        assert heard["a"].edits.empty()
        assert heard["b"].events.empty()
        assert heard["a"].lost == heard["b"].lost == 0
    finally:
        for relay in relays.values():
            await relay.close()
