"""A reader for Mermaid flowcharts (`flowchart` / `graph`), enough to turn one into a notebook.

Covers what Mermaid's flowchart syntax page shows for structure: directions, node shapes
(quoted and markdown labels too), the link kinds with `|labels|` and `-- text -->`, chains,
`&` groups, subgraphs (with edges to and from them), `%%` comments and front matter. Styling
and interaction lines (`classDef`, `class`, `style`, `linkStyle`, `click`, `:::`) are read and
ignored: they change how the chart looks, not what depends on what.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from hexa.errors import MermaidSyntaxError, MermaidTooLargeError

Direction = Literal["TB", "TD", "BT", "RL", "LR"]
NodeShape = Literal[
    "rect",
    "round",
    "stadium",
    "subroutine",
    "cylinder",
    "circle",
    "double-circle",
    "asymmetric",
    "diamond",
    "hexagon",
    "parallelogram",
    "parallelogram-alt",
    "trapezoid",
    "trapezoid-alt",
]
# arrow: -->  open: ---  dotted: -.-> / -.-  thick: ==> / ===  invisible: ~~~ (layout only)
EdgeKind = Literal["arrow", "open", "dotted", "thick", "invisible"]

_DIRECTIONS: frozenset[str] = frozenset({"TB", "TD", "BT", "RL", "LR"})


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    shape: NodeShape
    line: int  # 1-based line where the node first appears

    @property
    def decision(self) -> bool:
        return self.shape == "diamond"


@dataclass(frozen=True)
class Edge:
    """An edge as written. An endpoint may be a subgraph id; see `Flowchart.data_edges`."""

    source: str
    target: str
    label: str
    kind: EdgeKind
    line: int
    bidirectional: bool = False  # <-->, o--o, x--x


@dataclass(frozen=True)
class Subgraph:
    id: str
    title: str
    members: tuple[str, ...]  # node ids inside it, nested subgraphs' nodes included
    parent: str | None
    line: int


@dataclass(frozen=True)
class Flowchart:
    direction: Direction
    title: str | None
    nodes: tuple[Node, ...]  # in order of first appearance
    edges: tuple[Edge, ...]  # in order of appearance
    subgraphs: tuple[Subgraph, ...] = ()

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def data_edges(self) -> tuple[Edge, ...]:
        """The node-to-node edges that carry data, in order of appearance.

        An edge to a subgraph goes to its entry nodes (members with no predecessor inside it),
        an edge from a subgraph leaves from its exit nodes (members with no successor inside
        it); nested subgraphs are resolved innermost first. `~~~` links are layout only and
        are dropped; a bidirectional link gives an edge each way.
        """
        return _resolve_edges(self)


# --- statements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Statement:
    text: str
    line_no: int
    line: str  # the physical line the statement starts on, for error messages


def _statements(text: str) -> tuple[str | None, list[_Statement]]:
    """Split into statements (newline or `;` outside quotes and brackets), drop comments,
    and read the front matter title."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title: str | None = None
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first < len(lines) and lines[first].strip() == "---":
        end = first + 1
        while end < len(lines) and lines[end].strip() != "---":
            match = re.match(r"\s*title\s*:\s*(.*?)\s*$", lines[end])
            if match and not lines[end].startswith((" ", "\t")):
                title = match.group(1).strip("\"'") or None
            end += 1
        if end == len(lines):
            raise MermaidSyntaxError("front matter `---` is never closed", first + 1, lines[first])
        first = end + 1

    statements: list[_Statement] = []
    buf: list[str] = []
    start_no = 0
    in_quote = False
    depth = 0

    def flush() -> None:
        chunk = "".join(buf).strip()
        if chunk:
            statements.append(_Statement(chunk, start_no + 1, lines[start_no]))
        buf.clear()

    for index in range(first, len(lines)):
        raw = lines[index]
        if not in_quote:
            if raw.lstrip().startswith("%%"):
                continue  # comments and %%{init}%% directives take the whole line
            start_no = index
            depth = 0
        for char in raw:
            if char == '"':
                in_quote = not in_quote
            elif not in_quote:
                if char in "[({":
                    depth += 1
                elif char in "])}":
                    depth = max(0, depth - 1)
                elif char == ";" and depth == 0:
                    flush()
                    start_no = index
                    continue
            buf.append(char)
        if in_quote:
            buf.append("\n")  # a quoted (markdown) label may span lines
        else:
            flush()
    if in_quote:
        raise MermaidSyntaxError("a quoted label is never closed", start_no + 1, lines[start_no])
    return title, statements


# --- parsing ------------------------------------------------------------------------------

_HEADER = re.compile(r"^(flowchart|graph)(?:-elk)?(?:\s+(\S+))?$", re.IGNORECASE)
_IGNORED = re.compile(r"^(classDef|class|style|linkStyle|click|accTitle|accDescr)(\s|:)")
_DIRECTION_STMT = re.compile(r"^direction\s+\w+$")
_NODE_ID = re.compile(r"\w+")
_CLASS_SUFFIX = re.compile(r":::[\w-]+")
# Longest openers first: `((` must win over `(`.
_SHAPES: tuple[tuple[str, tuple[tuple[str, NodeShape], ...]], ...] = (
    ("(((", ((")))", "double-circle"),)),
    ("((", (("))", "circle"),)),
    ("([", (("])", "stadium"),)),
    ("[[", (("]]", "subroutine"),)),
    ("[(", ((")]", "cylinder"),)),
    ("[/", (("/]", "parallelogram"), ("\\]", "trapezoid"))),
    ("[\\", (("\\]", "parallelogram-alt"), ("/]", "trapezoid-alt"))),
    ("{{", (("}}", "hexagon"),)),
    ("[", (("]", "rect"),)),
    ("(", ((")", "round"),)),
    ("{", (("}", "diamond"),)),
    (">", (("]", "asymmetric"),)),
)
_EXTENDED_SHAPES: dict[str, NodeShape] = {
    "diamond": "diamond",
    "diam": "diamond",
    "decision": "diamond",
    "question": "diamond",
    "rounded": "round",
    "event": "round",
    "stadium": "stadium",
    "terminal": "stadium",
    "pill": "stadium",
    "subroutine": "subroutine",
    "subproc": "subroutine",
    "cyl": "cylinder",
    "cylinder": "cylinder",
    "database": "cylinder",
    "db": "cylinder",
    "circle": "circle",
    "circ": "circle",
    "dbl-circ": "double-circle",
    "double-circle": "double-circle",
    "hex": "hexagon",
    "hexagon": "hexagon",
    "prepare": "hexagon",
}
# A link without text in the middle. Circle/cross heads (--o, --x) are tried before plain
# `---` so that `A---oB` is a circle edge, as in Mermaid.
_LINK = re.compile(
    r"(?P<left>[<ox])?(?P<body>"
    r"-{2,}>|-{2,}[ox](?=[\s\w])|-{3,}"
    r"|={2,}>|={2,}[ox](?=[\s\w])|={3,}"
    r"|-\.+->|-\.+[ox](?=[\s\w])|-\.+-"
    r"|~{3,})"
)
# The opening half of a link with text in the middle (`-- text -->`), and the closing halves.
_TEXT_LINK_OPEN = re.compile(r"(?P<left>[<ox])?(?P<open>--|==|-\.)(?![->=.])")
_TEXT_LINK_CLOSE = {
    "--": re.compile(r"-{2,}[>ox]|-{3,}"),
    "==": re.compile(r"={2,}[>ox]|={3,}"),
    "-.": re.compile(r"\.+-[>ox]|\.+-"),
}
_PIPE_LABEL = re.compile(r"\s*\|([^|]*)\|")


@dataclass
class _Builder:
    direction: Direction = "TB"
    nodes: dict[str, Node] = field(default_factory=dict)
    shaped: set[str] = field(default_factory=set)
    edges: list[Edge] = field(default_factory=list)
    subgraphs: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    open_subgraphs: list[str] = field(default_factory=list)

    def mention(self, node_id: str, label: str | None, shape: NodeShape | None, line: int) -> None:
        existing = self.nodes.get(node_id)
        if existing is None:
            self.nodes[node_id] = Node(node_id, label or node_id, shape or "rect", line)
        elif shape is not None:  # Mermaid: the last text given for a node wins
            self.nodes[node_id] = Node(node_id, label or node_id, shape, existing.line)
        if shape is not None:
            self.shaped.add(node_id)
        for sub in self.open_subgraphs:
            if node_id not in self.members[sub]:
                self.members[sub].append(node_id)


# Bounds on the work one request can cause: parsing is linear, but every node becomes a
# cell that is validated, and a chain of thousands held the checker for minutes.
MAX_MERMAID_BYTES = 64 * 1024
MAX_NODES = 200
MAX_EDGES = 400


def parse_mermaid(text: str) -> Flowchart:
    """Parse a Mermaid flowchart. Raises MermaidSyntaxError with the line at fault, and
    MermaidTooLargeError past `MAX_MERMAID_BYTES`, `MAX_NODES` or `MAX_EDGES`."""
    size = len(text.encode("utf-8", "replace"))
    if size > MAX_MERMAID_BYTES:
        raise MermaidTooLargeError("bytes", size, MAX_MERMAID_BYTES)
    title, statements = _statements(text)
    if not statements:
        raise MermaidSyntaxError("expected `flowchart` or `graph` and a direction", 1, "")
    header = statements[0]
    match = _HEADER.match(header.text)
    if match is None:
        raise MermaidSyntaxError(
            "expected a `flowchart` or `graph` header (only flowcharts are supported)",
            header.line_no,
            header.line,
        )
    builder = _Builder()
    if match.group(2) is not None:
        direction = match.group(2).upper()
        if direction not in _DIRECTIONS:
            raise MermaidSyntaxError(
                f"unknown direction {match.group(2)!r} (use TD, TB, LR, RL or BT)",
                header.line_no,
                header.line,
            )
        builder.direction = direction  # type: ignore[assignment]  # checked just above

    for stmt in statements[1:]:
        _statement(builder, stmt)
        if len(builder.nodes) > MAX_NODES:
            raise MermaidTooLargeError("nodes", len(builder.nodes), MAX_NODES)
        if len(builder.edges) > MAX_EDGES:
            raise MermaidTooLargeError("edges", len(builder.edges), MAX_EDGES)
    if builder.open_subgraphs:
        sub_id = builder.open_subgraphs[-1]
        line_no = builder.subgraphs[sub_id][2]
        raise MermaidSyntaxError(
            "`subgraph` is never closed with `end`", line_no, text.splitlines()[line_no - 1]
        )
    return _finish(builder, title, header)


def _statement(builder: _Builder, stmt: _Statement) -> None:
    body = stmt.text
    if body == "end":
        if not builder.open_subgraphs:
            raise MermaidSyntaxError("`end` without a `subgraph`", stmt.line_no, stmt.line)
        builder.open_subgraphs.pop()
        return
    if body == "subgraph" or body.startswith(("subgraph ", "subgraph\t")):
        _subgraph(builder, stmt)
        return
    if _IGNORED.match(body) or _DIRECTION_STMT.match(body):
        return
    _StatementParser(builder, stmt).parse()


def _subgraph(builder: _Builder, stmt: _Statement) -> None:
    rest = stmt.text[len("subgraph") :].strip()
    explicit = re.match(r"^(\w+)\s*\[(.*)\]$", rest)
    if explicit:
        sub_id, title = explicit.group(1), _clean_label(explicit.group(2))
    elif rest:
        sub_id = title = _clean_label(rest)
    else:
        raise MermaidSyntaxError("`subgraph` needs an id or a title", stmt.line_no, stmt.line)
    parent = builder.open_subgraphs[-1] if builder.open_subgraphs else None
    builder.subgraphs[sub_id] = (title or sub_id, parent, stmt.line_no)
    builder.members.setdefault(sub_id, [])
    builder.open_subgraphs.append(sub_id)


class _StatementParser:
    """Reads `group (link group)*` where a group is `node (& node)*`."""

    def __init__(self, builder: _Builder, stmt: _Statement) -> None:
        self.builder = builder
        self.stmt = stmt
        self.text = stmt.text
        self.pos = 0

    def fail(self, reason: str) -> MermaidSyntaxError:
        return MermaidSyntaxError(reason, self.stmt.line_no, self.stmt.line)

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def parse(self) -> None:
        left = self.group()
        while True:
            self.skip_ws()
            if self.pos >= len(self.text):
                return
            kind, label, bidirectional = self.link()
            self.skip_ws()
            if self.pos >= len(self.text):
                raise self.fail("a link needs a node after it")
            right = self.group()
            for source in left:
                for target in right:
                    self.builder.edges.append(
                        Edge(source, target, label, kind, self.stmt.line_no, bidirectional)
                    )
            left = right

    def group(self) -> list[str]:
        ids = [self.node()]
        while True:
            save = self.pos
            self.skip_ws()
            if self.text.startswith("&", self.pos):
                self.pos += 1
                self.skip_ws()
                ids.append(self.node())
            else:
                self.pos = save
                return ids

    def node(self) -> str:
        match = _NODE_ID.match(self.text, self.pos)
        if match is None:
            snippet = self.text[self.pos : self.pos + 20]
            raise self.fail(f"expected a node id at {snippet!r}")
        node_id = match.group(0)
        self.pos = match.end()
        label: str | None = None
        shape: NodeShape | None = None
        if self.text.startswith("@{", self.pos):
            label, shape = self.extended_shape()
        else:
            for opener, closers in _SHAPES:
                if self.text.startswith(opener, self.pos):
                    self.pos += len(opener)
                    label, shape = self.shape_body(opener, closers)
                    break
        suffix = _CLASS_SUFFIX.match(self.text, self.pos)
        if suffix:
            self.pos = suffix.end()
        self.builder.mention(node_id, label, shape, self.stmt.line_no)
        return node_id

    def shape_body(
        self, opener: str, closers: tuple[tuple[str, NodeShape], ...]
    ) -> tuple[str, NodeShape]:
        start = self.pos
        stripped = self.text[start:].lstrip()
        if stripped.startswith('"'):
            quote_start = len(self.text) - len(stripped) + 1
            quote_end = self.text.find('"', quote_start)
            if quote_end < 0:
                raise self.fail("a quoted label is never closed")
            label = self.text[quote_start:quote_end]
            after = quote_end + 1
            rest = self.text[after:].lstrip()
            for closer, shape in closers:
                if rest.startswith(closer):
                    self.pos = len(self.text) - len(rest) + len(closer)
                    return _clean_label(label), shape
            raise self.fail(f"the shape opened with {opener!r} is never closed")
        best: tuple[int, str, NodeShape] | None = None
        for closer, shape in closers:
            found = self.text.find(closer, start)
            if found >= 0 and (best is None or found < best[0]):
                best = (found, closer, shape)
        if best is None:
            raise self.fail(f"the shape opened with {opener!r} is never closed")
        found, closer, shape = best
        self.pos = found + len(closer)
        return _clean_label(self.text[start:found]), shape

    def extended_shape(self) -> tuple[str | None, NodeShape]:
        end = self.text.find("}", self.pos)
        if end < 0:
            raise self.fail("`@{` is never closed with `}`")
        body = self.text[self.pos + 2 : end]
        self.pos = end + 1
        shape_match = re.search(r"shape\s*:\s*([\w-]+)", body)
        label_match = re.search(r"label\s*:\s*(\"[^\"]*\"|[^,]+)", body)
        shape = _EXTENDED_SHAPES.get(shape_match.group(1), "rect") if shape_match else "rect"
        label = _clean_label(label_match.group(1)) if label_match else None
        return label, shape

    def link(self) -> tuple[EdgeKind, str, bool]:
        plain = _LINK.match(self.text, self.pos)
        if plain is not None:
            self.pos = plain.end()
            kind, headed = _link_kind(plain.group("body"))
            left = plain.group("left")
            label = ""
        else:
            opened = _TEXT_LINK_OPEN.match(self.text, self.pos)
            if opened is None:
                snippet = self.text[self.pos : self.pos + 20]
                raise self.fail(f"expected a link such as `-->` at {snippet!r}")
            closing = _TEXT_LINK_CLOSE[opened.group("open")].search(self.text, opened.end())
            if closing is None:
                raise self.fail("the text on this link is never closed (e.g. `-- text -->`)")
            label = _clean_label(self.text[opened.end() : closing.start()])
            self.pos = closing.end()
            kind, headed = _link_kind(opened.group("open") + closing.group(0))
            left = opened.group("left")
        pipe = _PIPE_LABEL.match(self.text, self.pos)
        if pipe is not None:
            self.pos = pipe.end()
            label = _clean_label(pipe.group(1)) or label
        if left and not headed:
            raise self.fail("a link with a head on the left needs one on the right")
        return kind, label, bool(left)


def _link_kind(body: str) -> tuple[EdgeKind, bool]:
    """The kind of a link and whether it has a head on the right."""
    headed = body[-1] in ">ox"
    if body.startswith("~"):
        return "invisible", False
    if "=" in body:
        return "thick", headed
    if "." in body:
        return "dotted", headed
    return ("arrow" if headed else "open"), headed


def _clean_label(raw: str) -> str:
    label = raw.strip()
    if len(label) >= 2 and label[0] == label[-1] == '"':
        label = label[1:-1].strip()
    if len(label) >= 2 and label[0] == label[-1] == "`":  # markdown string
        label = label[1:-1].strip()
    return label.replace("#quot;", '"')


def _finish(builder: _Builder, title: str | None, header: _Statement) -> Flowchart:
    subgraph_ids = set(builder.subgraphs)
    # An id used in an edge that names a subgraph refers to the subgraph, not to a new node;
    # an empty subgraph stays a box of its own.
    references = {
        node_id
        for node_id in builder.nodes
        if node_id in subgraph_ids and node_id not in builder.shaped and builder.members[node_id]
    }
    nodes = [node for node_id, node in builder.nodes.items() if node_id not in references]
    for node_id in subgraph_ids & set(builder.nodes):
        if node_id not in references and node_id not in builder.shaped:
            index = next(i for i, node in enumerate(nodes) if node.id == node_id)
            nodes[index] = Node(node_id, builder.subgraphs[node_id][0], "rect", nodes[index].line)
    if not nodes:
        raise MermaidSyntaxError("the flowchart has no nodes", header.line_no, header.line)
    subgraphs = tuple(
        Subgraph(
            id=sub_id,
            title=sub_title,
            members=tuple(m for m in builder.members[sub_id] if m not in references),
            parent=parent,
            line=line,
        )
        for sub_id, (sub_title, parent, line) in builder.subgraphs.items()
    )
    return Flowchart(
        direction=builder.direction,
        title=title,
        nodes=tuple(nodes),
        edges=tuple(builder.edges),
        subgraphs=subgraphs,
    )


# --- data edges ---------------------------------------------------------------------------


def _resolve_edges(chart: Flowchart) -> tuple[Edge, ...]:
    node_ids = {node.id for node in chart.nodes}
    groups = {sub.id: sub for sub in chart.subgraphs if sub.members and sub.id not in node_ids}
    directed: list[Edge] = []
    for edge in chart.edges:
        if edge.kind == "invisible":
            continue
        directed.append(edge)
        if edge.bidirectional:
            directed.append(Edge(edge.target, edge.source, edge.label, edge.kind, edge.line, True))

    def depth(sub_id: str) -> int:
        parent = groups[sub_id].parent
        return 0 if parent is None or parent not in groups else 1 + depth(parent)

    resolved: dict[int, list[Edge]] = {}  # index in `directed` -> node-level edges
    ends: dict[str, tuple[list[str], list[str]]] = {}  # subgraph -> (entries, exits)
    for index, edge in enumerate(directed):
        if edge.source not in groups and edge.target not in groups:
            resolved[index] = [edge]
    for sub_id in sorted(groups, key=depth, reverse=True):
        members = set(groups[sub_id].members)
        inside = [
            e
            for edges in resolved.values()
            for e in edges
            if e.source in members and e.target in members
        ]
        has_pred = {e.target for e in inside}
        has_succ = {e.source for e in inside}
        order = groups[sub_id].members
        ends[sub_id] = (
            [m for m in order if m not in has_pred],
            [m for m in order if m not in has_succ],
        )
        for index, edge in enumerate(directed):
            if index in resolved:
                continue
            if all(end not in groups or end in ends for end in (edge.source, edge.target)):
                sources = ends[edge.source][1] if edge.source in groups else [edge.source]
                targets = ends[edge.target][0] if edge.target in groups else [edge.target]
                resolved[index] = [
                    Edge(s, t, edge.label, edge.kind, edge.line, edge.bidirectional)
                    for s in sources
                    for t in targets
                ]
    return tuple(_unique(e for index in sorted(resolved) for e in resolved[index]))


def _unique(edges: Iterator[Edge]) -> Iterator[Edge]:
    seen: set[tuple[str, str, str]] = set()
    for edge in edges:
        key = (edge.source, edge.target, edge.label)
        if key not in seen:
            seen.add(key)
            yield edge
