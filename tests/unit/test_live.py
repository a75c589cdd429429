"""The in-process event bus and the typed events it carries (all in-process, no fakes)."""

from __future__ import annotations

import asyncio

from pydantic import TypeAdapter

from hexa.agent.events import NotebookEvent, TextDelta, TurnDone
from hexa.live import EventBus, Lagged, LiveEvent, NotebookStatusChanged


def delta(n: int) -> TextDelta:
    return TextDelta(turn_id="t", delta=str(n))


async def test_subscribers_get_their_notebooks_events_in_order_stamped_with_the_notebook() -> None:
    bus = EventBus()
    one, two = bus.subscribe("a"), bus.subscribe("b")
    bus.publish("a", delta(1))
    bus.publish("b", NotebookStatusChanged(status="running"))
    bus.publish("a", delta(2))
    assert [await one.get(), await one.get()] == [
        TextDelta(notebook_id="a", turn_id="t", delta="1"),
        TextDelta(notebook_id="a", turn_id="t", delta="2"),
    ]
    assert await two.get() == NotebookStatusChanged(notebook_id="b", status="running")
    assert one.get_nowait() is None


async def test_closing_unsubscribes() -> None:
    bus = EventBus()
    async with bus.subscribe("a"):
        assert bus.subscribers("a") == 1
    assert bus.subscribers("a") == 0
    bus.publish("a", delta(0))


async def test_a_slow_subscriber_loses_its_oldest_events_not_the_publisher() -> None:
    bus = EventBus(queue_size=3)
    sub = bus.subscribe("a")
    for n in range(10):
        bus.publish("a", delta(n))
    assert isinstance(await sub.get(), Lagged)
    deltas = [await sub.get() for _ in range(3)]
    assert [d.delta for d in deltas if isinstance(d, TextDelta)] == ["7", "8", "9"]


async def test_iteration_waits_for_events() -> None:
    bus = EventBus()
    sub = bus.subscribe("a")
    listening = asyncio.Event()

    async def first() -> LiveEvent:
        listening.set()
        async for event in sub:
            return event
        raise AssertionError

    task = asyncio.create_task(first())
    await listening.wait()
    bus.publish("a", delta(7))
    assert await asyncio.wait_for(task, 5) == TextDelta(notebook_id="a", turn_id="t", delta="7")


def test_every_event_reads_back_from_its_json_by_its_type() -> None:
    events = TypeAdapter(NotebookEvent)
    done = TurnDone(notebook_id="a", turn_id="t", status="done", message="ok")
    assert events.validate_json(done.model_dump_json()) == done
    lagged = Lagged(notebook_id="a")
    assert events.validate_json(lagged.model_dump_json()) == lagged
    assert '"type":"notebook_status"' in NotebookStatusChanged(status="failed").model_dump_json()
