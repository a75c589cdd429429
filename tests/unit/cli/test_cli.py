"""The `hexa` command line, in process (click's runner); generation runs offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hexa.cli import main
from hexa.generate import validate_notebook


@pytest.mark.slow
def test_generate_from_mermaid_writes_a_valid_notebook(tmp_path: Path) -> None:
    chart = tmp_path / "chart.mmd"
    chart.write_text("flowchart LR\n  A[Read] --> B[Plot]\n")
    out = tmp_path / "out.py"
    result = CliRunner().invoke(main, ["generate", "--mermaid", str(chart), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert validate_notebook(out.read_text()).valid


def test_generate_refuses_a_cycle_naming_its_nodes(tmp_path: Path) -> None:
    chart = tmp_path / "cycle.mmd"
    chart.write_text("flowchart LR\n  A --> B\n  B --> A\n")
    result = CliRunner().invoke(main, ["generate", "--mermaid", str(chart)])
    assert result.exit_code == 1
    assert "A -> B -> A" in result.output


def test_generate_needs_exactly_one_source() -> None:
    result = CliRunner().invoke(main, ["generate"])
    assert result.exit_code == 2
    assert "exactly one" in result.output


def test_user_add_prints_the_token_last(tmp_path: Path) -> None:
    env = {"HEXA_DATA_DIR": str(tmp_path)}
    first = CliRunner().invoke(main, ["user", "add", "erin"], env=env)
    assert first.exit_code == 0, first.output
    assert len(first.output.split()[-1]) >= 20
    again = CliRunner().invoke(main, ["user", "add", "erin"], env=env)
    assert again.exit_code == 1
    assert "already exists" in again.output
    bad = CliRunner().invoke(main, ["user", "add", "../x"], env=env)
    assert bad.exit_code == 1


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"HEXA_PORT": "abc"}, "HEXA_PORT: Input should be a valid integer"),
        (
            {"HEXA_SERVER_PER_PERSON": "true", "HEXA_SANDBOX": "docker"},
            "server_per_person is not available with sandbox=docker",
        ),
    ],
)
def test_a_bad_setting_is_one_line_not_a_traceback(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    for command in (["serve"], ["user", "list"]):
        result = CliRunner().invoke(main, command, env={"HEXA_DATA_DIR": str(tmp_path), **env})
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: bad configuration: "), result.output
        assert said in result.output
        assert "Traceback" not in result.output
