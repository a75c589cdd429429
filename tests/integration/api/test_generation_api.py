"""Generation, import and templates through a real `hexa serve` (builtin model, offline),
on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest

from hexa.generate import validate_notebook
from tests.support.server import HexaServer, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_store_env: dict[str, str]
) -> Iterator[HexaServer]:
    with running_server(tmp_path_factory.mktemp("hexa-gen"), **module_store_env) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server: HexaServer) -> Iterator[httpx2.Client]:
    with server.client() as client:
        yield client


def saved(server: HexaServer, created: dict[str, str]) -> str:
    return (server.data_dir / "notebooks" / "default" / created["path"]).read_text()


def test_templates_are_listed_and_create_valid_notebooks(
    server: HexaServer, api: httpx2.Client
) -> None:
    ids = [t["id"] for t in api.get("/api/templates").json()]
    assert {"blank", "data-analysis", "plotting", "sql"} <= set(ids)
    for template in ("data-analysis", "sql"):
        reply = api.post("/api/notebooks", json={"name": f"t {template}", "template": template})
        assert reply.status_code == 201, reply.text
        assert validate_notebook(saved(server, reply.json())).valid
    reply = api.post("/api/notebooks", json={"name": "x", "template": "nope"})
    assert reply.status_code == 404


def test_mermaid_becomes_a_notebook(server: HexaServer, api: httpx2.Client) -> None:
    chart = "flowchart TD\n  A[Load data] --> B{Clean?}\n  B -->|yes| C[Save]\n  B -->|no| D[Fix]\n"
    reply = api.post("/api/notebooks/generate", json={"mermaid": chart, "name": "pipeline"})
    assert reply.status_code == 200, reply.text
    created = reply.json()
    assert created["name"] == "pipeline"
    assert created["url"] == f"/nb/{created['notebook_id']}/"
    text = saved(server, created)
    assert "mo.mermaid" in text
    assert validate_notebook(text).valid


@pytest.mark.parametrize(
    ("chart", "needle"),
    [
        ("flowchart TD\n  A --> B\n  B --> A\n", "cycle"),
        ("flowchart TD\n  A[Open --> \n", "line"),
        ('pie title Pets\n  "Dogs" : 3\n', "line"),
    ],
)
def test_bad_mermaid_is_422_with_the_fault(api: httpx2.Client, chart: str, needle: str) -> None:
    reply = api.post("/api/notebooks/generate", json={"mermaid": chart})
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert needle in body["detail"].lower()
    assert body["diagnostics"]


def test_prompt_gives_the_nearest_template(server: HexaServer, api: httpx2.Client) -> None:
    reply = api.post("/api/notebooks/generate", json={"prompt": "Plot sales by month"})
    assert reply.status_code == 200, reply.text
    text = saved(server, reply.json())
    assert "Plot sales by month" in text
    assert validate_notebook(text).valid


def test_generate_needs_exactly_one_source(api: httpx2.Client) -> None:
    assert api.post("/api/notebooks/generate", json={}).status_code == 400
    both = {"prompt": "x", "mermaid": "flowchart TD\nA-->B"}
    assert api.post("/api/notebooks/generate", json=both).status_code == 400


def test_import_ipynb_and_script(server: HexaServer, api: httpx2.Client) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Imported"]},
            {
                "cell_type": "code",
                "metadata": {},
                "source": ["x = 1\n", "x + 1"],
                "outputs": [],
                "execution_count": None,
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    reply = api.post(
        "/api/notebooks/import", files={"file": ("analysis.ipynb", json.dumps(notebook).encode())}
    )
    assert reply.status_code == 200, reply.text
    text = saved(server, reply.json())
    assert "x = 1" in text
    assert validate_notebook(text).valid

    reply = api.post("/api/notebooks/import", files={"file": ("script.py", b"y = 2\nprint(y)\n")})
    assert reply.status_code == 200, reply.text
    assert validate_notebook(saved(server, reply.json())).valid


def test_import_refuses_what_it_cannot_read(api: httpx2.Client) -> None:
    reply = api.post("/api/notebooks/import", files={"file": ("bad.ipynb", b"{not json")})
    assert reply.status_code == 422
    reply = api.post("/api/notebooks/import", files={"file": ("notes.docx", b"PK\x03\x04")})
    assert reply.status_code in (415, 422)


def test_llm_text_is_normalised_or_refused(server: HexaServer, api: httpx2.Client) -> None:
    sloppy = (
        "```python\nimport marimo\napp = marimo.App()\n\n@app.cell\ndef _():\n"
        "    import pandas as pd\n    df = pd.DataFrame({'a': [1]})\n```\n"
    )
    reply = api.post("/create-notebook", json={"content": sloppy})
    assert reply.status_code == 200, reply.text
    assert validate_notebook(saved(server, reply.json())).valid
    reply = api.post("/create-notebook", json={"content": "this is not python at all (("})
    assert reply.status_code == 422
