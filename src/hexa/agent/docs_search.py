"""A custom tool shipped through the registry: offline search of marimo's own API docs.

The index is built on first use from the docstrings of marimo's public API (`mo.*`,
`mo.ui.*`, ... and their public methods) of the marimo that Hexa pins, by `inspect`, in a
thread: no network, and it always matches the version the notebooks run.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import math
import re
from collections import Counter
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import Field

from hexa.agent.outputs import clip
from hexa.agent.registry import Tier, ToolArgs, ToolContext, ToolOutcome, ToolRegistry, ToolSpec

_WORD = re.compile(r"[a-z0-9]+")
_SKIP = {"__version__"}


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class DocEntry:
    name: str  # as written in a notebook: "mo.ui.slider"
    signature: str
    doc: str


@dataclass(frozen=True)
class Hit:
    entry: DocEntry
    score: float


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""


def _collect(module: ModuleType, prefix: str, seen: set[int], out: list[DocEntry]) -> None:
    for name in getattr(module, "__all__", ()):
        if name.startswith("_") or name in _SKIP:
            continue
        obj = getattr(module, name, None)
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        qualified = f"{prefix}.{name}"
        if inspect.ismodule(obj):
            if (obj.__name__ or "").startswith("marimo"):
                doc = inspect.getdoc(obj) or ""
                if doc:
                    out.append(DocEntry(qualified, "", doc))
                _collect(obj, qualified, seen, out)
            continue
        doc = inspect.getdoc(obj) or ""
        out.append(DocEntry(qualified, _signature(obj), doc))
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                target = (
                    member.__func__ if isinstance(member, classmethod | staticmethod) else member
                )
                if not (inspect.isfunction(target) or isinstance(member, property)):
                    continue
                member_doc = inspect.getdoc(member) or ""
                if member_doc:
                    signature = "" if isinstance(member, property) else _signature(target)
                    out.append(DocEntry(f"{qualified}.{attr}", signature, member_doc))


def build_index() -> list[DocEntry]:
    """Every documented public name of marimo (imports marimo: call it off the loop)."""
    marimo = importlib.import_module("marimo")
    entries: list[DocEntry] = []
    _collect(marimo, "mo", set(), entries)
    return entries


class DocsIndex:
    """A small TF-IDF search over `DocEntry`s; names weigh more than prose."""

    def __init__(self, entries: list[DocEntry]) -> None:
        self.entries = entries
        self._terms = [
            Counter(_words(e.doc)) + Counter(dict.fromkeys(_words(e.name), 5)) for e in entries
        ]
        df: Counter[str] = Counter()
        for terms in self._terms:
            df.update(terms.keys())
        n = max(len(entries), 1)
        self._idf = {w: math.log(1 + n / c) for w, c in df.items()}

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        words = _words(query)
        if not words:
            return []
        q = query.strip().lower()
        hits = []
        for entry, terms in zip(self.entries, self._terms, strict=True):
            score = sum((1 + math.log(terms[w])) * self._idf.get(w, 0.0) for w in words if terms[w])
            name = entry.name.lower()
            if q in (name, name.removeprefix("mo.")):
                score += 50
            if score > 0:
                # Shorter names first among equals: `mo.ui.table` before its methods.
                hits.append(Hit(entry, score - len(entry.name) / 1000))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:limit]


class DocsSearch:
    """The lazily built index, shared by every turn."""

    def __init__(self) -> None:
        self._index: DocsIndex | None = None
        self._lock = asyncio.Lock()

    async def index(self) -> DocsIndex:
        async with self._lock:
            if self._index is None:
                self._index = DocsIndex(await asyncio.to_thread(build_index))
            return self._index


class DocsArgs(ToolArgs):
    query: str = Field(min_length=1, max_length=200, description="What to look for.")
    limit: int = Field(5, ge=1, le=10, description="How many entries to return.")


def register_docs_search(registry: ToolRegistry, search: DocsSearch | None = None) -> None:
    docs = search or DocsSearch()

    async def run(ctx: ToolContext, args: DocsArgs) -> ToolOutcome:
        hits = (await docs.index()).search(args.query, args.limit)
        if not hits:
            return ToolOutcome(f"Nothing in marimo's API docs matches {args.query!r}.", "no match")
        parts = [f"## {h.entry.name}{h.entry.signature}\n{clip(h.entry.doc, 1200)}" for h in hits]
        names = ", ".join(h.entry.name for h in hits)
        return ToolOutcome("\n\n".join(parts), f"docs: {names}")

    registry.register(
        ToolSpec(
            "search_marimo_docs",
            "Search the API documentation of the installed marimo (mo.ui.*, mo.md, mo.sql, "
            "layout, caching, state, ...) by keywords; returns signatures and docstrings "
            "with examples. Works offline. It reads no notebook, so it takes no notebook_id.",
            DocsArgs,
            Tier.READ,
            run,
        )
    )
