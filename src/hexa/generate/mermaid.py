"""A reader for Mermaid flowcharts (`flowchart` / `graph`), enough to turn one into a notebook.

Covers what Mermaid's flowchart syntax page shows for structure: directions, node shapes
(quoted and markdown labels too), the link kinds with `|labels|` and `-- text -->`, chains,
`&` groups, subgraphs (with edges to and from them), `%%` comments and front matter. Styling
and interaction lines (`classDef`, `class`, `style`, `linkStyle`, `click`, `:::`) are read and
ignored: they change how the chart looks, not what depends on what.

The text is first split into statements (`mermaid_lexer`); this module reads each one into
the `Flowchart` model (`flowchart`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hexa.errors import MermaidSyntaxError, MermaidTooLargeError
from hexa.generate.flowchart import (
    DIRECTIONS,
    Direction,
    Edge,
    EdgeKind,
    Flowchart,
    Node,
    NodeShape,
    Subgraph,
)
from hexa.generate.mermaid_lexer import Statement, split_statements

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
    title, statements = split_statements(text)
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
        if direction not in DIRECTIONS:
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


def _statement(builder: _Builder, stmt: Statement) -> None:
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


def _subgraph(builder: _Builder, stmt: Statement) -> None:
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

    def __init__(self, builder: _Builder, stmt: Statement) -> None:
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


def _finish(builder: _Builder, title: str | None, header: Statement) -> Flowchart:
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
