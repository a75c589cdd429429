"""What an error most likely means, worked out from the error and the notebook's data.

Deterministic and offline: the builtin model explains errors with these, and every model
gets them with the error (a KeyError on a dataframe is far easier to fix once the
dataframe's columns and the closest one are in view).
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Mapping, Sequence

from hexa.agent.tracebacks import CellError

# Names people use without importing them, and the import that defines each.
COMMON_IMPORTS = {
    "np": "import numpy as np",
    "pd": "import pandas as pd",
    "plt": "import matplotlib.pyplot as plt",
    "mo": "import marimo as mo",
    "alt": "import altair as alt",
    "px": "import plotly.express as px",
    "sns": "import seaborn as sns",
    "pl": "import polars as pl",
    "duckdb": "import duckdb",
    "math": "import math",
    "json": "import json",
    "os": "import os",
    "re": "import re",
    "datetime": "import datetime",
}
_IDENT = re.compile(r"[A-Za-z_]\w*")
_QUOTED = re.compile(r"""^['"](.*)['"]$""", re.S)
_NAME_ERROR = re.compile(r"name '([^']+)' is not defined")
_NO_ATTRIBUTE = re.compile(r"'(\w+)' object has no attribute '([^']+)'")
_NO_MODULE = re.compile(r"No module named '([^']+)'")


def names_in(source: str | None) -> list[str]:
    """The identifiers a line of code uses (the variables worth looking up)."""
    if not source:
        return []
    seen = dict.fromkeys(n for n in _IDENT.findall(source) if not keyword.iskeyword(n))
    return list(seen)


def closest(word: str, choices: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if found:
        return found[0]
    lowered = {c.lower(): c for c in choices}  # `Amount` for `amount`
    return lowered.get(word.lower())


def hints(
    error: CellError, columns: Mapping[str, Sequence[str]], names: Sequence[str]
) -> list[str]:
    """Sentences that explain `error`. `columns`: the dataframes the notebook holds (name
    -> its columns); `names`: every variable the notebook defines."""
    match error.exception:
        case "KeyError":
            return _missing_column(error, _unquoted(error.message), columns)
        case "AttributeError":
            found = _NO_ATTRIBUTE.search(error.message)
            if found and found.group(1) in ("DataFrame", "Series"):
                return _missing_column(error, found.group(2), columns)
            return []
        case "NameError":
            return _undefined(error.message, names)
        case "ZeroDivisionError":
            return ["A divisor on that line is zero."]
        case "ModuleNotFoundError":
            found = _NO_MODULE.search(error.message)
            package = found.group(1) if found else "that package"
            return [f"`{package}` is not installed in this notebook's environment."]
        case "FileNotFoundError":
            return ["Relative paths are read from the notebook's own folder."]
        case _:
            return []


def _unquoted(message: str) -> str:
    found = _QUOTED.match(message.strip())
    return found.group(1) if found else message.strip()


def _missing_column(error: CellError, key: str, columns: Mapping[str, Sequence[str]]) -> list[str]:
    """The dataframe the line indexes (or the only one there is), its columns and the
    closest to `key`."""
    used = [name for name in names_in(error.source) if name in columns]
    frames = used or (list(columns) if len(columns) == 1 else [])
    out = []
    for name in frames[:2]:
        cols = [str(c) for c in columns[name]]
        if key in cols:
            continue
        shown = ", ".join(f"'{c}'" for c in cols[:30]) + (" …" if len(cols) > 30 else "")
        sentence = f"`{name}` has no column '{key}'; its columns are {shown}."
        near = closest(key, cols)
        if near is not None:
            sentence += f" The closest is '{near}'."
        out.append(sentence)
    return out


def _undefined(message: str, names: Sequence[str]) -> list[str]:
    found = _NAME_ERROR.search(message)
    if found is None:
        return []
    name = found.group(1)
    if name in COMMON_IMPORTS:
        return [f"`{name}` is never imported: add `{COMMON_IMPORTS[name]}` to a cell."]
    near = closest(name, [n for n in names if n != name])
    if near is not None:
        return [f"No cell defines `{name}`; the closest defined name is `{near}`."]
    return [f"No cell defines `{name}`: define it in one cell (marimo runs that cell first)."]
