"""parse_mermaid: Mermaid's own flowchart examples, malformed charts, cycles."""

from __future__ import annotations

import pytest

from hexa.generate import MermaidCycleError, MermaidSyntaxError, parse_mermaid, plan_steps
from tests.unit.generate.mermaid_examples import ACYCLIC, CYCLIC, Example


@pytest.mark.parametrize("example", ACYCLIC, ids=lambda e: e.name)
def test_doc_examples_give_their_data_edges(example: Example) -> None:
    chart = parse_mermaid(example.text)
    assert {(e.source, e.target) for e in chart.data_edges()} == example.edges


@pytest.mark.parametrize(
    ("text", "shape", "label"),
    [
        ("id1[This is the text in the box]", "rect", "This is the text in the box"),
        ("id1(This is the text in the box)", "round", "This is the text in the box"),
        ("id1([This is the text in the box])", "stadium", "This is the text in the box"),
        ("id1[[This is the text in the box]]", "subroutine", "This is the text in the box"),
        ("id1[(Database)]", "cylinder", "Database"),
        ("id1((This is the text in the circle))", "circle", "This is the text in the circle"),
        ("id1>This is the text in the box]", "asymmetric", "This is the text in the box"),
        ("id1{This is the text in the box}", "diamond", "This is the text in the box"),
        ("id1{{This is the text in the box}}", "hexagon", "This is the text in the box"),
        ("id1[/This is the text in the box/]", "parallelogram", "This is the text in the box"),
        (
            "id1[\\This is the text in the box\\]",
            "parallelogram-alt",
            "This is the text in the box",
        ),
        ("id1[/Christmas\\]", "trapezoid", "Christmas"),
        ("id1[\\Go shopping/]", "trapezoid-alt", "Go shopping"),
        (
            "id1(((This is the text in the circle)))",
            "double-circle",
            "This is the text in the circle",
        ),
        ('id1["This is the (text) in the box"]', "rect", "This is the (text) in the box"),
        ('id1{"Is it (really)?"}', "diamond", "Is it (really)?"),
        ("id1", "rect", "id1"),
        ('id1@{ shape: diamond, label: "Extended" }', "diamond", "Extended"),
    ],
)
def test_node_shapes_and_labels(text: str, shape: str, label: str) -> None:
    (node,) = parse_mermaid(f"flowchart LR\n    {text}\n").nodes
    assert (node.id, node.shape, node.label) == ("id1", shape, label)
    assert node.decision is (shape == "diamond")


@pytest.mark.parametrize(
    ("link", "kind", "label"),
    [
        ("-->", "arrow", ""),
        ("--->", "arrow", ""),
        ("---", "open", ""),
        ("-.->", "dotted", ""),
        ("-.-", "dotted", ""),
        ("==>", "thick", ""),
        ("===", "thick", ""),
        ("-->|yes|", "arrow", "yes"),
        ("---|plain|", "open", "plain"),
        ("-.->|maybe|", "dotted", "maybe"),
        ("==>|must|", "thick", "must"),
        ("-- some text -->", "arrow", "some text"),
        ("-- some text ---", "open", "some text"),
        ("-. some text .->", "dotted", "some text"),
        ("== some text ==>", "thick", "some text"),
        ('-- "quoted text" -->', "arrow", "quoted text"),
        ("--o", "arrow", ""),
        ("--x", "arrow", ""),
        ("~~~", "invisible", ""),
    ],
)
def test_edge_kinds_and_labels(link: str, kind: str, label: str) -> None:
    (edge,) = parse_mermaid(f"flowchart LR\n    A {link} B\n").edges
    assert (edge.source, edge.target, edge.kind, edge.label) == ("A", "B", kind, label)
    assert edge.line == 2


def test_chart_header_title_and_direction() -> None:
    chart = parse_mermaid("---\ntitle: Orders\n---\ngraph rl\n  A --> B\n")
    assert chart.title == "Orders"
    assert chart.direction == "RL"


def test_last_label_wins_and_first_appearance_order() -> None:
    chart = parse_mermaid("flowchart TD\n  B --> A\n  A[Alpha]\n  B(Beta) --> C\n")
    assert [(n.id, n.label, n.shape) for n in chart.nodes] == [
        ("B", "Beta", "round"),
        ("A", "Alpha", "rect"),
        ("C", "C", "rect"),
    ]
    assert chart.node("B").line == 2


def test_subgraphs_are_exposed() -> None:
    chart = parse_mermaid(
        "flowchart LR\n  subgraph TOP [Top level]\n    subgraph inner\n      a --> b\n"
        "    end\n    c\n  end\n"
    )
    top, inner = chart.subgraphs
    assert (top.id, top.title, set(top.members), top.parent) == (
        "TOP",
        "Top level",
        {"a", "b", "c"},
        None,
    )
    assert (inner.id, set(inner.members), inner.parent) == ("inner", {"a", "b"}, "TOP")


def test_bidirectional_edge_is_flagged() -> None:
    (edge,) = parse_mermaid("flowchart LR\n  A <--> B\n").edges
    assert edge.bidirectional
    assert {
        (e.source, e.target) for e in parse_mermaid("flowchart LR\n  A <--> B\n").data_edges()
    } == {
        ("A", "B"),
        ("B", "A"),
    }


@pytest.mark.parametrize(
    ("text", "line_no", "reason"),
    [
        ("sequenceDiagram\n  A->>B: hi\n", 1, "header"),
        ("", 1, "flowchart"),
        ("flowchart XY\n  A --> B\n", 1, "unknown direction"),
        ("flowchart TD\n  A --> B\n  C[unclosed --> D\n", 3, "never closed"),
        ("flowchart TD\n  A --> B\n  A -->\n", 3, "needs a node"),
        ("flowchart TD\n  A --> B\n  end\n", 3, "`end` without"),
        ("flowchart TD\n  subgraph one\n  A --> B\n", 2, "never closed"),
        ("flowchart TD\n  A -- text B\n", 2, "never closed"),
        ("flowchart TD\n  A ?? B\n", 2, "expected a link"),
        ('flowchart TD\n  A --> B\n  C["unterminated] --> D\n', 3, "never closed"),
        ("flowchart TD\n  %% only a comment\n", 1, "no nodes"),
        ("---\ntitle: x\nflowchart TD\n  A --> B\n", 1, "front matter"),
        ("flowchart TD\n  A --> B & \n", 2, "node id"),
        ("flowchart TD\n  A o--- B\n", 2, "head on the left"),
    ],
)
def test_malformed_charts_name_the_line(text: str, line_no: int, reason: str) -> None:
    with pytest.raises(MermaidSyntaxError) as caught:
        parse_mermaid(text)
    assert caught.value.line_no == line_no
    assert reason in caught.value.reason
    lines = text.splitlines() or [""]
    assert caught.value.line == lines[line_no - 1]
    assert f"line {line_no}" in str(caught.value)


@pytest.mark.parametrize(("name", "text", "nodes"), CYCLIC, ids=[c[0] for c in CYCLIC])
def test_cycles_are_refused_with_their_nodes(name: str, text: str, nodes: frozenset[str]) -> None:
    chart = parse_mermaid(text)  # a cycle is well-formed Mermaid ...
    with pytest.raises(MermaidCycleError) as caught:
        plan_steps(chart)  # ... that a notebook cannot hold
    assert set(caught.value.nodes) == nodes
    assert len(caught.value.nodes) == len(nodes)
    for node in nodes:
        assert node in str(caught.value)


def test_cycle_nodes_are_in_edge_order() -> None:
    with pytest.raises(MermaidCycleError) as caught:
        plan_steps(parse_mermaid("flowchart LR\n  S --> X --> Y --> Z --> X\n"))
    cycle = list(caught.value.nodes)
    start = cycle.index("X")
    assert cycle[start:] + cycle[:start] == ["X", "Y", "Z"]


def test_a_huge_chain_is_refused_at_once_naming_the_cap() -> None:
    from hexa.generate import MermaidTooLargeError
    from hexa.generate.mermaid import MAX_EDGES, MAX_NODES

    chain = "flowchart TD\n" + "\n".join(f"n{i} --> n{i + 1}" for i in range(3000))
    with pytest.raises(MermaidTooLargeError) as caught:
        parse_mermaid(chain)
    assert caught.value.limit in ("nodes", "edges")
    assert caught.value.cap in (MAX_NODES, MAX_EDGES)
    assert str(caught.value.cap) in str(caught.value)


def test_a_flowchart_over_the_size_cap_is_refused_before_parsing() -> None:
    from hexa.generate import MermaidTooLargeError

    with pytest.raises(MermaidTooLargeError, match="bytes"):
        parse_mermaid("flowchart TD\n" + "%% padding\n" * 20_000)
