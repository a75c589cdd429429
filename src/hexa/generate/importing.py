"""Notebooks from elsewhere: `.ipynb`, plain scripts, marimo markdown, and marimo text that
a model got almost right. Everything goes through marimo's converters and then its checker.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import PurePath
from typing import Any

from hexa.diagnostics import Diagnostic
from hexa.errors import InvalidNotebookError, UnsupportedError
from hexa.generate.validation import require_valid, validate_notebook

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*\n"
    r"(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_MARIMO_HINT = re.compile(r"marimo\.App\(|mo\.App\(|^@app\.(cell|function|class_definition)", re.M)
_APP_LINE = re.compile(r"^app\s*=\s*(marimo|mo)\.App\(", re.MULTILINE)
_FIRST_DECORATOR = re.compile(r"^@app\.", re.MULTILINE)
_MARIMO_IMPORT = re.compile(r"^import marimo(\s+as\s+\w+)?\s*$", re.MULTILINE)
_SCRIPT_SUFFIXES = frozenset({".py", ".txt", ""})


def import_notebook(filename: str, data: bytes) -> str:
    """Turn an uploaded file into valid marimo notebook text.

    By extension (and content when the extension says little): `.ipynb` (or JSON) through
    marimo's Jupyter converter; `.md`/`.qmd` as marimo markdown notebooks; `.py`/`.txt`
    either as marimo text (normalised) or as a plain script (one cell). Raises
    UnsupportedError for what cannot be converted here and InvalidNotebookError
    (with marimo's diagnostics) when the result is not a valid notebook.
    """
    text = _decode(data)
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".ipynb" or (suffix not in _SCRIPT_SUFFIXES and text.lstrip().startswith("{")):
        return _checked(_from_ipynb(text))
    if suffix in (".md", ".qmd"):
        return _checked(_with_mo_import(_convert("from_md", text)))
    if suffix in _SCRIPT_SUFFIXES:
        if _MARIMO_HINT.search(text):
            return normalize_notebook_text(text)
        return _checked(_from_script(text))
    raise UnsupportedError(
        f"Cannot import {suffix!r} files: use a marimo .py notebook, a Jupyter .ipynb, "
        "a Python script or a marimo .md notebook"
    )


def normalize_notebook_text(text: str) -> str:
    """Make almost-right marimo text (typically from a model) into a valid notebook.

    Strips Markdown code fences and prose around the code, adds a missing `import marimo`
    or `app = marimo.App()`, moves stray top-level statements (imports above the App, say)
    into marimo's setup cell instead of letting marimo drop them, then re-serialises with
    marimo, which adds `__generated_with`, the run guard and each cell's parameters and
    returns. Raises InvalidNotebookError with marimo's diagnostics when marimo cannot read
    the text or the result has breaking issues.
    """
    if _intact(text):
        return text
    source = _trim_prose(_repair_header(_unfence(text)))
    ir = _parse(source)
    ir = _rescue_stray_statements(source, ir)
    out = _convert_ir(ir)
    return _checked(out)


def becomes_one_cell(filename: str, data: bytes) -> bool:
    """Whether an upload is a plain script, which `import_notebook` makes one cell of (so
    its size can be checked before any work)."""
    suffix = PurePath(filename).suffix.lower()
    return suffix in _SCRIPT_SUFFIXES and not _MARIMO_HINT.search(data.decode("utf-8", "replace"))


def cell_codes(text: str) -> list[str]:
    """The code of each cell of a valid notebook text, in order."""
    return [cell.code for cell in _parse(text).cells]


# --- steps of normalisation ---------------------------------------------------------------


def _intact(text: str) -> bool:
    """A notebook marimo reads as it is, losing nothing, passes through byte for byte:
    the repairs are for text marimo cannot read (they would, say, take a fenced block out
    of a `mo.md` string for the notebook)."""
    if not validate_notebook(text).valid:
        return False
    try:
        ir = _parse(text)
    except InvalidNotebookError:
        return False
    return _rescue_stray_statements(text, ir) is ir


def _unfence(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    blocks = [(m.group("lang").lower(), m.group("body")) for m in _FENCE.finditer(text)]
    if blocks:
        for _, body in blocks:
            if _MARIMO_HINT.search(body):
                return body
        python = [body for lang, body in blocks if lang in ("python", "py", "")]
        return max(python or [body for _, body in blocks], key=len)
    # A fence that was opened but never closed (a reply cut short).
    lines = text.strip().split("\n")
    if lines and re.match(r"^(`{3,}|~{3,})", lines[0]):
        return "\n".join(lines[1:]) + "\n"
    return text


def _repair_header(source: str) -> str:
    if not _APP_LINE.search(source) and (decorator := _FIRST_DECORATOR.search(source)):
        source = (
            f"{source[: decorator.start()]}app = marimo.App()\n\n\n{source[decorator.start() :]}"
        )
    app_line = _APP_LINE.search(source)
    if app_line and not _MARIMO_IMPORT.search(source[: app_line.start()]):
        source = f"{source[: app_line.start()]}import marimo\n{source[app_line.start() :]}"
    return source


def _trim_prose(source: str) -> str:
    """Drop chatter before the code and after the run guard, only when it breaks parsing."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        pass
    lines = source.split("\n")
    starts = [
        i
        for i, line in enumerate(lines)
        if re.match(r'^(import marimo|# /// script|"""|\'\'\')', line)
    ]
    ends = [i for i, line in enumerate(lines) if re.match(r"^\s+app\.run\(\)\s*$", line)]
    if not starts:
        return source
    candidate = "\n".join(lines[starts[0] : (ends[-1] + 1) if ends else len(lines)]) + "\n"
    try:
        ast.parse(candidate)
    except SyntaxError:
        return source
    return candidate


def _parse(source: str) -> Any:
    from marimo._ast.parse import MarimoFileError, parse_notebook

    try:
        ir = parse_notebook(source, filepath="notebook.py")
    except (MarimoFileError, SyntaxError, ValueError):
        ir = None
    if ir is None or not ir.valid:
        raise InvalidNotebookError(_diagnostics_or_generic(source), text=source)
    from marimo._schemas.serialization import UnparsableCell

    if any(isinstance(cell, UnparsableCell) for cell in ir.cells):
        raise InvalidNotebookError(_diagnostics_or_generic(source), text=source)
    return ir


def _rescue_stray_statements(source: str, ir: Any) -> Any:
    """marimo's parser silently drops top-level statements that are not part of the
    notebook structure; models often put imports there. Keep them in the setup cell."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return ir
    body = module.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the module docstring is marimo's header
    stray = [
        segment
        for node in body
        if not _is_notebook_structure(node)
        and (segment := ast.get_source_segment(source, node)) is not None
    ]
    if not stray:
        return ir
    from marimo._schemas.serialization import SetupCell

    code = "\n".join(stray)
    cells = list(ir.cells)
    setup = next((c for c in cells if isinstance(c, SetupCell)), None)
    if setup is not None:
        cells[cells.index(setup)] = dataclasses.replace(setup, code=f"{code}\n{setup.code}")
    else:
        cells.insert(0, SetupCell(code=code, name="setup"))
    return dataclasses.replace(ir, cells=cells)


def _is_notebook_structure(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name == "marimo" for alias in node.names)
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {t.id for t in targets if isinstance(t, ast.Name)}
        return bool(names & {"__generated_with", "app"})
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return any(_mentions_app(d) for d in node.decorator_list)
    if isinstance(node, ast.With | ast.AsyncWith):
        return any(_mentions_app(item.context_expr) for item in node.items)
    if isinstance(node, ast.If):
        return "__name__" in ast.unparse(node.test)
    if isinstance(node, ast.Expr):
        return _mentions_app(node.value)
    return False


def _mentions_app(expr: ast.expr) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "app" for n in ast.walk(expr))


# --- conversions --------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedError(
            f"The file is not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from exc


def _from_ipynb(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise InvalidNotebookError(
            [_breaking("invalid-ipynb", f"Not a Jupyter notebook: invalid JSON ({exc})", line)]
        ) from exc
    try:
        return _convert("from_ipynb", text)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidNotebookError(
            [_breaking("invalid-ipynb", f"Not a Jupyter notebook marimo can convert: {exc!r}")]
        ) from exc


def _from_script(text: str) -> str:
    try:
        return _convert("from_non_marimo_python_script", text)
    except ImportError as exc:
        # marimo hands `# %%` (py:percent) scripts to jupytext.
        raise UnsupportedError(
            "This script uses `# %%` cells (py:percent); converting those needs the "
            "`jupytext` package, which is not installed. Save it as .ipynb and import that, "
            "or remove the `# %%` markers to import it as one cell."
        ) from exc


def _convert(method: str, text: str) -> str:
    from marimo._convert.converters import MarimoConvert

    out: str = getattr(MarimoConvert, method)(text).to_py()
    return out


def _with_mo_import(text: str) -> str:
    """marimo's Markdown converter writes `mo.md(...)` cells without a cell that imports
    `mo` when the document has code blocks of its own; such a notebook fails with a
    NameError on its first run. Add the import, as marimo's own notebooks have it."""
    ir = _parse(text)
    uses_mo = any(re.search(r"\bmo\.", cell.code) for cell in ir.cells)
    defines_mo = any(
        re.search(r"^\s*import marimo as mo\b", cell.code, re.MULTILINE) for cell in ir.cells
    )
    if not uses_mo or defines_mo:
        return text
    from marimo._schemas.serialization import CellDef

    cells = [CellDef(code="import marimo as mo", name="_"), *ir.cells]
    return _convert_ir(dataclasses.replace(ir, cells=cells))


def _convert_ir(ir: Any) -> str:
    from marimo._convert.converters import MarimoConvert

    out: str = MarimoConvert.from_ir(ir).to_py()
    return out


def _checked(text: str) -> str:
    require_valid(text)
    return text


def _diagnostics_or_generic(source: str) -> tuple[Diagnostic, ...]:
    result = validate_notebook(source)
    if not result.valid:
        return result.diagnostics
    return (_breaking("not-a-notebook", "marimo could not read this as a notebook"),)


def _breaking(code: str, message: str, line: int | None = None) -> Diagnostic:
    return Diagnostic(code=code, name=code, message=message, severity="breaking", line=line)
