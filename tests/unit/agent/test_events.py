"""The in-process event bus."""

from __future__ import annotations

import asyncio

from hexa.agent.events import EventBus


async def test_subscribers_get_their_notebooks_events_in_order() -> None:
    bus = EventBus()
    one, two = bus.subscribe("a"), bus.subscribe("b")
    bus.publish("a", {"type": "x", "n": 1})
    bus.publish("b", {"type": "y"})
    bus.publish("a", {"type": "x", "n": 2})
    assert [await one.get(), await one.get()] == [
        {"type": "x", "n": 1, "notebook_id": "a"},
        {"type": "x", "n": 2, "notebook_id": "a"},
    ]
    assert await two.get() == {"type": "y", "notebook_id": "b"}
    assert one.get_nowait() is None


async def test_closing_unsubscribes() -> None:
    bus = EventBus()
    async with bus.subscribe("a"):
        assert bus.subscribers("a") == 1
    assert bus.subscribers("a") == 0
    bus.publish("a", {"type": "nobody listens"})


async def test_a_slow_subscriber_loses_its_oldest_events_not_the_publisher() -> None:
    bus = EventBus(queue_size=3)
    sub = bus.subscribe("a")
    for n in range(10):
        bus.publish("a", {"type": "x", "n": n})
    assert (await sub.get())["type"] == "lagged"
    assert [(await sub.get())["n"] for _ in range(3)] == [7, 8, 9]


async def test_iteration_waits_for_events() -> None:
    bus = EventBus()
    sub = bus.subscribe("a")

    async def first() -> dict[str, object]:
        async for event in sub:
            return event
        raise AssertionError

    task = asyncio.create_task(first())
    await asyncio.sleep(0.01)
    bus.publish("a", {"type": "late"})
    assert (await asyncio.wait_for(task, 1))["type"] == "late"
