"""A flowchart as Hexa reads it: nodes, edges and subgraphs in the order written, and the
node-to-node edges that carry data once subgraph endpoints are resolved.

`mermaid.parse_mermaid` builds one from Mermaid text; `steps.plan_steps` turns one into cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

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

DIRECTIONS: frozenset[str] = frozenset({"TB", "TD", "BT", "RL", "LR"})


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
