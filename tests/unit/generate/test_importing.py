"""normalize_notebook_text and import_notebook: almost-right text fixed, the rest refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hexa.generate import (
    InvalidNotebookError,
    UnsupportedError,
    import_notebook,
    normalize_notebook_text,
    validate_notebook,
)
from tests.unit.generate.conftest import marimo_dependencies

CELLS = """@app.cell
def _():
    import pandas as pd
    df = pd.DataFrame({"a": [1, 2, 3]})

@app.cell
def _(df):
    total = df["a"].sum()
    total
"""

CANONICAL = f"""import marimo

__generated_with = "0.25.2"
app = marimo.App()


{CELLS}

if __name__ == "__main__":
    app.run()
"""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"app = marimo.App()\n\n{CELLS}", id="no-import-marimo"),
        pytest.param(f"import marimo\n\n{CELLS}", id="no-app"),
        pytest.param(f"{CELLS}", id="only-cells"),
        pytest.param(f"```python\n{CANONICAL}```\n", id="fenced"),
        pytest.param(
            f"Here is your notebook:\n\n```python\n{CANONICAL}```\n\nEnjoy!", id="fenced-with-prose"
        ),
        pytest.param(f"```\n{CANONICAL}```", id="fence-without-language"),
        pytest.param(f"```python\n{CANONICAL}", id="fence-never-closed"),
        pytest.param(f"Sure! Here it is:\n{CANONICAL}I hope this helps.", id="unfenced-prose"),
        pytest.param("\ufeff" + CANONICAL, id="bom"),
    ],
)
def test_almost_right_text_is_normalised(text: str, tmp_path: Path) -> None:
    out = normalize_notebook_text(text)
    result = validate_notebook(out)
    assert result.valid
    assert result.diagnostics == ()  # not even a formatting warning is left
    assert '__generated_with = "0.25.2"' in out
    assert 'if __name__ == "__main__":\n    app.run()' in out
    assert "return (df,)" in out  # marimo derived the return
    edges, _ = marimo_dependencies(out, tmp_path)
    assert len(edges) == 1


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(CANONICAL, id="already-fine"),
        pytest.param(
            f"import marimo\napp = marimo.App()\n\n{CELLS}", id="no-generated-with-no-guard"
        ),
        pytest.param(CANONICAL.replace("\n", "\r\n"), id="crlf"),
        pytest.param(
            CANONICAL.replace("import marimo\n", "import marimo as mo\n").replace(
                "marimo.App()", "mo.App()"
            ),
            id="marimo-imported-as-mo",
        ),
    ],
)
def test_text_marimo_reads_as_it_is_is_not_rewritten(text: str) -> None:
    # Formatting warnings (no __generated_with, an alias) are no reason to touch a
    # person's notebook: only text marimo cannot read is repaired.
    assert validate_notebook(text).valid
    assert normalize_notebook_text(text) == text


def test_normalising_is_idempotent() -> None:
    once = normalize_notebook_text(f"```python\n{CELLS}```")
    assert normalize_notebook_text(once) == once


def test_top_level_statements_move_to_the_setup_cell() -> None:
    text = (
        "import marimo\nimport pandas as pd\nLIMIT = 3\n\napp = marimo.App()\n\n"
        "@app.cell\ndef _():\n    df = pd.DataFrame({'a': range(LIMIT)})\n    df\n"
    )
    out = normalize_notebook_text(text)
    assert "with app.setup:\n    import pandas as pd\n    LIMIT = 3" in out
    assert validate_notebook(out).valid


def test_header_docstring_and_script_metadata_are_kept() -> None:
    header = '"""Sales report."""\n# /// script\n# dependencies = ["pandas"]\n# ///\n'
    out = normalize_notebook_text(header + CANONICAL)
    assert out.startswith(header.rstrip("\n"))
    assert "with app.setup" not in out


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param(CANONICAL.replace("total = df", "total = = df"), "MB001", id="syntax-in-cell"),
        pytest.param(
            CANONICAL.replace("total = df", "df = df"), "MB002", id="multiple-definitions"
        ),
        pytest.param("I am sorry, I cannot write that notebook.", "syntax-error", id="prose-only"),
        pytest.param("import os\nprint(os.getcwd())\n", "not-a-notebook", id="plain-script"),
        pytest.param("", "empty", id="empty"),
    ],
)
def test_unreadable_text_is_refused_with_diagnostics(text: str, code: str) -> None:
    with pytest.raises(InvalidNotebookError) as caught:
        normalize_notebook_text(text)
    assert code in {d.code for d in caught.value.diagnostics if d.breaking}


def _ipynb(*cells: dict[str, object]) -> bytes:
    notebook = {
        "cells": list(cells),
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook).encode()


def _code(source: str) -> dict[str, object]:
    return {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


IPYNB = _ipynb(
    {"cell_type": "markdown", "metadata": {}, "source": "# Analysis\nSome words."},
    _code("!pip install pandas\nimport pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})"),
    _code("%matplotlib inline\ndf = df[df.a > 1]\ndf"),
)


def test_ipynb_is_converted_by_marimo() -> None:
    out = import_notebook("analysis.ipynb", IPYNB)
    assert validate_notebook(out).valid
    assert "# Analysis" in out
    assert "df_1 = df[df.a > 1]" in out  # marimo renames the redefinition
    assert '# dependencies = ["pandas"]' in out  # `!pip install` became script metadata


def test_json_without_extension_is_taken_as_ipynb() -> None:
    assert validate_notebook(import_notebook("upload.json", IPYNB)).valid


def test_plain_script_becomes_one_cell() -> None:
    out = import_notebook("script.py", b"import math\nradius = 2\narea = math.pi * radius**2\n")
    assert validate_notebook(out).valid
    assert out.count("@app.cell") == 1


def test_marimo_file_is_normalised_on_import() -> None:
    out = import_notebook("nb.py", f"```python\n{CELLS}```".encode())
    assert validate_notebook(out).valid


def test_marimo_markdown_notebook() -> None:
    md = "---\ntitle: Notes\n---\n\n# Notes\n\n```python {.marimo}\nx = 1\n```\n"
    out = import_notebook("notes.md", md.encode())
    assert validate_notebook(out).valid
    assert "x = 1" in out


@pytest.mark.parametrize(
    ("filename", "data", "error", "words"),
    [
        ("cells.py", b"# %%\nx = 1\n# %%\nprint(x)\n", UnsupportedError, "jupytext"),
        ("bad.ipynb", b"{not json", InvalidNotebookError, "invalid JSON"),
        ("odd.ipynb", b'{"cells": 3}', InvalidNotebookError, "Jupyter"),
        ("latin1.py", "caf\u00e9 = 1\n".encode("latin-1"), UnsupportedError, "UTF-8"),
        ("report.docx", b"PK\x03\x04", UnsupportedError, ".docx"),
        ("broken.py", b"def (:\n", InvalidNotebookError, "MB001"),
    ],
)
def test_import_refusals(filename: str, data: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as caught:
        import_notebook(filename, data)
    text = str(caught.value)
    if isinstance(caught.value, InvalidNotebookError):
        text += " ".join(f"{d.code} {d.message}" for d in caught.value.diagnostics)
    assert words in text


# --- notebooks marimo reads as they are pass through unchanged ---------------------------

import marimo as _marimo_package  # noqa: E402

_TUTORIALS = sorted((Path(_marimo_package.__file__).parent / "_tutorials").glob("*.py"))


@pytest.mark.parametrize("path", [p for p in _TUTORIALS if p.name != "__init__.py"], ids=str)
def test_notebooks_marimo_ships_pass_through_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if not validate_notebook(text).valid:
        # dataflow.py and for_jupyter_users.py redefine names on purpose, to teach.
        pytest.skip(f"{path.name} has breaking issues by design")
    assert normalize_notebook_text(text) == text
    assert import_notebook(path.name, text.encode()) == text


FENCED_IN_MARKDOWN = '''# /// script
# requires-python = ">=3.11"
# dependencies = ["marimo"]
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")

with app.setup:
    import math


@app.cell
def intro():
    import marimo as mo
    mo.md(r"""
    Run it like this:

    ```python
    import pandas as pd
        indented = "inside the fence"
    ```
    """)
    return (mo,)


@app.cell
def area(mo):
    r = 2
    mo.md(f"area {math.pi * r ** 2:.1f}")
    return


if __name__ == "__main__":
    app.run()
'''


def test_a_valid_notebook_with_fenced_code_in_markdown_is_kept_whole() -> None:
    assert normalize_notebook_text(FENCED_IN_MARKDOWN) == FENCED_IN_MARKDOWN


def test_markdown_with_code_blocks_imports_mo_for_its_markdown_cells() -> None:
    md = "# Title\n\nSome text.\n\n```python {.marimo}\nx = 1\n```\n"
    text = import_notebook("data.md", md.encode())
    assert "import marimo as mo" in text
    assert text.index("import marimo as mo") < text.index("mo.md(")
