"""Chat turns through the real AgentService, pydantic-ai and the database, with the builtin
model or scripted FunctionModels, over fake marimo notebooks (tests/unit/agent/fakes.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import (
    BinaryContent,
    ModelMessage,
    ModelRequest,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from hexa.agent.events import RunFinished
from hexa.agent.models import ModelChoice
from hexa.errors import BadRequestError, NotFoundError
from hexa.store import (
    AuditEntry,
    AuditRepository,
    ChatRepository,
    Decision,
    TurnRepository,
    TurnStatus,
)

from .conftest import World, collector
from .scripts import Seen, scripted


async def audit(world: World, notebook_id: str = "nb1") -> list[AuditEntry]:
    async with world.sessions() as session:
        return list(reversed(await AuditRepository(session).list_for_notebook(notebook_id)))


async def test_builtin_adds_and_runs_a_code_block(world: World) -> None:
    service = world.service()
    drain = collector(service, "nb1")
    reply = await service.chat(world.alice, "nb1", "add a cell:\n```python\n40 + 2\n```")
    new_id = world.nb.cells[-1].cell_id
    assert world.nb.cells[-1].code == "40 + 2"
    assert reply.status == "done"
    assert f"Added cell `{new_id}` and ran it" in reply.message
    assert "42" in reply.message
    assert [(c.tool_name, c.arguments["code"], c.status) for c in reply.tool_calls] == [
        ("add_cell", "40 + 2", "ok")
    ]
    types = [e["type"] for e in drain()]
    assert types[0] == "turn_started"
    assert types[-1] == "turn_done"
    assert {"tool_call_started", "tool_call_finished", "text_delta"} <= set(types)
    finished = next(e for e in drain() if e["type"] == "tool_call_finished")
    assert finished["ok"] is True
    assert new_id in finished["summary"]
    deltas = "".join(e["delta"] for e in drain() if e["type"] == "text_delta")
    assert deltas == reply.message
    [entry] = await audit(world)
    assert entry.tool_name == "add_cell"
    assert entry.decision is Decision.AUTO
    assert entry.code_after == "40 + 2"
    assert entry.outcome.startswith("ok:")
    assert entry.prompt is not None
    assert entry.prompt.startswith("add a cell")
    assert entry.user_name == "alice"


async def test_turn_and_chat_lines_are_stored(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "list cells")
    history = await service.history(world.alice, "nb1")
    assert [(m.role, m.turn_id) for m in history.messages] == [
        ("user", reply.turn_id),
        ("tool", reply.turn_id),
        ("assistant", reply.turn_id),
    ]
    tool_line = history.messages[1].data
    assert tool_line is not None
    assert tool_line["tool_name"] == "get_notebook_map"
    assert "`Hbol`" in history.messages[2].content
    async with world.sessions() as session:
        turn = await TurnRepository(session).get(reply.turn_id)
    assert turn is not None
    assert turn.status is TurnStatus.DONE
    assert turn.messages_json
    assert turn.cells_before_json is None  # a read-only turn has nothing to undo


async def test_builtin_errors_come_back_as_words(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "```python\n1 / 0\n```")
    assert "ZeroDivisionError" in reply.message
    reply = await service.chat(world.alice, "nb1", "run cell nope")
    assert "not found" in reply.message
    assert reply.tool_calls[0].status == "error"
    reply = await service.chat(world.alice, "nb1", "```python\ndef broken(:\n```")
    assert "nothing was added" in reply.message


async def test_builtin_explains_itself(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "plot revenue by month")
    assert reply.tool_calls == []
    assert "HEXA_MODEL" in reply.message
    assert service.info().commands
    assert service.info().model == "builtin"


async def test_conversation_continues_across_turns(world: World) -> None:
    seen: Seen = []
    service = world.service(scripted("first answer", "second answer", seen=seen))
    await service.chat(world.alice, "nb1", "hello")
    await service.chat(world.alice, "nb1", "again")
    messages, _ = seen[-1]
    texts = [getattr(p, "content", None) for m in messages for p in m.parts]
    assert "hello" in texts
    assert "again" in texts


async def test_unknown_tool_and_malformed_args_go_back_to_the_model(world: World) -> None:
    seen: Seen = []
    service = world.service(
        scripted(
            ("drop_database", "{}"),
            ("add_cell", '{"cod": "1"}'),
            ("add_cell", '{"code": "1 + 1", "notebook_id": "nb1"}'),
            "fixed it",
            seen=seen,
        )
    )
    reply = await service.chat(world.alice, "nb1", "do it")
    assert reply.status == "done"
    assert reply.message.strip() == "fixed it"
    statuses = [(c.tool_name, c.status) for c in reply.tool_calls]
    assert statuses == [("drop_database", "invalid"), ("add_cell", "invalid"), ("add_cell", "ok")]
    told = [p.content for m, _ in seen for p in m[-1].parts if isinstance(p, ToolReturnPart)]
    assert any("Unknown tool name" in str(t) for t in told)
    assert any("code" in str(t) and "missing" in str(t) for t in told)
    entries = await audit(world)
    assert [(e.tool_name, e.outcome.split(":")[0]) for e in entries] == [
        ("drop_database", "failed"),
        ("add_cell", "failed"),
        ("add_cell", "ok"),
    ]


async def test_tools_act_on_the_notebook_they_name_and_only_the_users(world: World) -> None:
    service = world.service(
        scripted(
            ("add_cell", '{"code": "7", "notebook_id": "nb2"}'),
            ("get_notebook_map", '{"notebook_id": "bobnb"}'),
            "ok",
        )
    )
    reply = await service.chat(world.alice, "nb1", "go")
    assert world.other.cells[-1].code == "7"
    assert len(world.nb.cells) == 3
    assert reply.tool_calls[1].status == "error"
    assert "no notebook bobnb" in reply.tool_calls[1].summary
    assert [e.tool_name for e in await audit(world, "nb2")] == ["add_cell"]


async def test_other_users_notebook_is_not_found(world: World) -> None:
    service = world.service()
    with pytest.raises(NotFoundError):
        await service.chat(world.alice, "bobnb", "list cells")
    with pytest.raises(NotFoundError):
        await service.history(world.alice, "bobnb")
    with pytest.raises(NotFoundError):
        await service.audit(world.alice, "bobnb")
    with pytest.raises(BadRequestError):
        await service.chat(world.alice, "nb1", "   ")


async def test_provider_errors_become_a_clear_message(world: World) -> None:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        raise ModelHTTPError(401, "gpt-x", body={"error": "bad key sk-abcdefghijklmnopqrstu"})
        yield ""  # pragma: no cover

    service = world.service(ModelChoice("openai:gpt-x", FunctionModel(stream_function=stream)))
    drain = collector(service, "nb1")
    reply = await service.chat(world.alice, "nb1", "hi")
    assert reply.status == "failed"
    assert reply.error == reply.message
    assert "HTTP 401" in reply.message
    assert "sk-abc" not in reply.message
    assert any(e["type"] == "error" for e in drain())
    async with world.sessions() as session:
        turn = await TurnRepository(session).get(reply.turn_id)
    assert turn is not None
    assert turn.status is TurnStatus.FAILED


async def test_a_misconfigured_model_says_so_in_the_chat(world: World) -> None:
    from hexa.agent.models import choose_model

    choice = choose_model(world.settings.model_copy(update={"model": "openai:gpt-4.1"}), env={})
    assert choice.problem is not None
    assert "OPENAI_API_KEY" in choice.problem
    reply = await world.service(choice).chat(world.alice, "nb1", "hi")
    assert "OPENAI_API_KEY" in reply.message


async def test_instructions_carry_rules_map_and_selection(world: World) -> None:
    seen: Seen = []
    service = world.service(scripted("ok", "ok", seen=seen))
    await service.chat(world.alice, "nb1", "what does this do?", {"cell_ids": ["MJUe"]})
    _, info = seen[0]
    text = info.instructions or ""
    assert "notebook `nb1`" in text
    assert "marimo rules (fake)" in text
    assert "- `Hbol` [" in text  # the map
    assert "Cells the person has selected" in text
    assert "x = 2" in text
    await service.chat(world.alice, "nb1", "again")
    assert world.nb.rules_calls == 1  # cached
    history = await service.history(world.alice, "nb1")
    assert history.messages[0].data == {"context": {"cell_ids": ["MJUe"]}}


async def test_bad_context_is_refused(world: World) -> None:
    with pytest.raises(BadRequestError):
        await world.service().chat(world.alice, "nb1", "hi", {"cell_ids": "Hbol"})


async def test_a_long_run_reports_still_running_and_finishes_later(world: World) -> None:
    service = world.service()
    world.nb.gate = asyncio.Event()  # the run holds until the test lets it go
    service._run_wait = 0.05  # the settings' run_wait, shortened for the test
    async with service.bus.subscribe("nb1") as events:
        reply = await service.chat(world.alice, "nb1", "run all")
        assert "still running" in reply.message
        world.nb.gate.set()
        async with asyncio.timeout(5):
            while not isinstance(done := await events.get(), RunFinished):
                pass
    assert done.ok is True
    assert done.tool_name == "run_cells"


async def test_code_size_is_capped(world: World) -> None:
    service = world.service()
    service._max_code_bytes = 10
    reply = await service.chat(world.alice, "nb1", "```python\nx_long_name = 12345\n```")
    assert "at most 10" in reply.message
    assert len(world.nb.cells) == 3


async def test_every_tool_json_is_in_the_chat_line(world: World) -> None:
    service = world.service()
    await service.chat(world.alice, "nb1", "show cell Hbol")
    async with world.sessions() as session:
        lines = await ChatRepository(session).list_for_notebook("nb1")
    data = json.loads(lines[1].data_json or "{}")
    assert data["tool_name"] == "get_cells"
    assert data["arguments"]["cell_ids"] == ["Hbol"]
    assert data["status"] == "ok"


def _requests(messages: list[ModelMessage]) -> int:
    return sum(isinstance(m, ModelRequest) for m in messages)


async def test_an_edit_of_a_cell_the_person_changed_since_is_a_conflict(world: World) -> None:
    seen: Seen = []
    service = world.service(
        scripted(
            ("get_cells", '{"cell_ids": ["vblA"]}'),
            "read it",
            ("edit_cell", '{"cell_id": "vblA", "code": "x + 1000"}'),
            "tried",
            ("edit_cell", '{"cell_id": "vblA", "code": "x + 2000"}'),
            "again",
            seen=seen,
        )
    )
    await service.chat(world.alice, "nb1", "look at vblA")
    world.nb.find("vblA").code = "x + 7  # typed by the person"
    reply = await service.chat(world.alice, "nb1", "now change it")
    assert [(c.tool_name, c.status) for c in reply.tool_calls] == [("edit_cell", "error")]
    assert world.nb.find("vblA").code == "x + 7  # typed by the person"
    told = str(seen[-1][0][-1])
    assert "changed since you last read it" in told
    assert "typed by the person" in told  # the model gets the code as it is now
    # Having been told, its next edit is based on what it saw, so it goes through.
    again = await service.chat(world.alice, "nb1", "go on")
    assert [(c.tool_name, c.status) for c in again.tool_calls] == [("edit_cell", "ok")]
    assert world.nb.find("vblA").code == "x + 2000"


async def test_a_turn_left_running_by_a_crash_is_marked_interrupted(world: World) -> None:
    async with world.sessions.begin() as session:
        turn = await TurnRepository(session).create("nb1", world.alice.id, "do something")
    assert turn.status is TurnStatus.RUNNING
    service = world.service()  # as at the next start of hexa serve
    assert await service.recover() == 1
    async with world.sessions() as session:
        stored = await TurnRepository(session).get(turn.id)
        lines = await ChatRepository(session).list_for_notebook("nb1")
    assert stored is not None
    assert stored.status is TurnStatus.FAILED
    assert "interrupted" in (stored.reply or "")
    assert any("interrupted" in line.content for line in lines)
    assert await service.recover() == 0


PNG = b"\x89PNG\r\n\x1a\n-a-tiny-chart"


def _images_in(messages: list[ModelMessage]) -> list[bytes]:
    return [
        content.data
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart) and not isinstance(part.content, str)
        for content in part.content
        if isinstance(content, BinaryContent)
    ]


@pytest.mark.parametrize("takes_images", [True, False])
async def test_a_chart_goes_to_a_model_that_takes_images_and_only_for_one_turn(
    world: World, takes_images: bool
) -> None:
    world.nb.cells[0].image = PNG
    cell = world.nb.cells[0].cell_id
    seen: Seen = []
    model = scripted(
        ("get_cell_outputs", json.dumps({"cell_ids": [cell]})), "a chart", "ok", seen=seen
    )
    service = world.service(model=replace(model, images=takes_images))
    await service.chat(world.alice, "nb1", "what does my chart show?")
    after_call = seen[1][0]
    result = next(
        p
        for m in after_call
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    )
    assert "[image/png image" in str(result.content)  # described in words either way
    assert _images_in(after_call) == ([PNG] if takes_images else [])
    # The next turn carries the words, not the image again.
    await service.chat(world.alice, "nb1", "thanks")
    assert _images_in(seen[2][0]) == []
