"""`NotebookClient` names what Hexa calls on a marimo client; the real client and the
agent tests' fake both provide it.

mypy checks the conformance statically (`as_notebook_client` below); the tests check at
run time that every member exists with the Protocol's parameters, so a fake cannot drift
from the real signatures unnoticed even where mypy does not look.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from hexa.marimo import MarimoClient, NotebookClient
from tests.unit.agent.fakes import FakeMarimoClient

MEMBERS = sorted(
    name for name, value in vars(NotebookClient).items() if callable(value) and name[0] != "_"
)


def as_notebook_client(client: MarimoClient | FakeMarimoClient) -> NotebookClient:
    return client  # a type error here if either stops satisfying the Protocol


def test_the_protocol_names_what_hexa_calls() -> None:
    assert MEMBERS == [
        "apply",
        "cell_map",
        "cell_outputs",
        "cell_runtime_data",
        "close_session",
        "delete_cells",
        "dependency_graph",
        "describe_charts",
        "events",
        "format",
        "health",
        "interrupt",
        "lint",
        "marimo_rules",
        "notebook_errors",
        "open_session",
        "read_cells",
        "replace_cells",
        "tables_and_variables",
    ]


def parameters(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("implementation", [MarimoClient, FakeMarimoClient])
@pytest.mark.parametrize("name", MEMBERS)
def test_implementations_match_the_protocol(implementation: type, name: str) -> None:
    declared = getattr(NotebookClient, name)
    provided = getattr(implementation, name)
    assert parameters(provided) == parameters(declared)
    if inspect.iscoroutinefunction(declared):
        assert inspect.iscoroutinefunction(provided)
    else:  # events(): an async generator
        assert inspect.isasyncgenfunction(provided)
