"""Flowcharts from Mermaid's flowchart syntax page (mermaid.js.org/syntax/flowchart.html),
with the data edges each should give: (source, target) node ids after subgraph edges are
resolved and `~~~` links dropped."""

from __future__ import annotations

from typing import NamedTuple


class Example(NamedTuple):
    name: str
    text: str
    edges: frozenset[tuple[str, str]]


def _e(*pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset((a, b) for a, b in (p.split(">") for p in pairs))


ACYCLIC: tuple[Example, ...] = (
    Example("node-default", "flowchart LR\n    id\n", _e()),
    Example(
        "node-with-text-and-title",
        "---\ntitle: Node with text\n---\nflowchart LR\n    id1[This is the text in the box]\n",
        _e(),
    ),
    Example("unicode-text", 'flowchart LR\n    id["This ❤ Unicode"]\n', _e()),
    Example(
        "markdown-formatting",
        '%%{init: {"flowchart": {"htmlLabels": false}} }%%\nflowchart LR\n'
        '    markdown["`This **is** _Markdown_`"]\n'
        '    newLines["`Line1\n    Line 2\n    Line 3`"]\n'
        "    markdown --> newLines\n",
        _e("markdown>newLines"),
    ),
    Example("direction-td", "flowchart TD\n    Start --> Stop\n", _e("Start>Stop")),
    Example("direction-lr", "flowchart LR\n    Start --> Stop\n", _e("Start>Stop")),
    Example("direction-bt-graph", "graph BT\n    Start --> Stop\n", _e("Start>Stop")),
    Example("direction-rl", "flowchart RL\n    Start --> Stop\n", _e("Start>Stop")),
    Example("direction-tb", "flowchart TB\n    Start --> Stop\n", _e("Start>Stop")),
    Example("link-arrow", "flowchart LR\n    A-->B\n", _e("A>B")),
    Example("link-open", "flowchart LR\n    A --- B\n", _e("A>B")),
    Example("text-on-open-link", "flowchart LR\n    A-- This is the text! ---B\n", _e("A>B")),
    Example("pipe-text-on-open-link", "flowchart LR\n    A---|This is the text|B\n", _e("A>B")),
    Example("arrow-pipe-text", "flowchart LR\n    A-->|text|B\n", _e("A>B")),
    Example("arrow-middle-text", "flowchart LR\n    A-- text -->B\n", _e("A>B")),
    Example("dotted", "flowchart LR\n   A-.->B;\n", _e("A>B")),
    Example("dotted-text", "flowchart LR\n   A-. text .-> B\n", _e("A>B")),
    Example("thick", "flowchart LR\n   A ==> B\n", _e("A>B")),
    Example("thick-text", "flowchart LR\n   A == text ==> B\n", _e("A>B")),
    Example("invisible", "flowchart LR\n    A ~~~ B\n", _e()),
    Example("chain", "flowchart LR\n   A -- text --> B -- text2 --> C\n", _e("A>B", "B>C")),
    Example(
        "chain-and-group", "flowchart LR\n   a --> b & c--> d\n", _e("a>b", "a>c", "b>d", "c>d")
    ),
    Example(
        "groups-both-sides", "flowchart TB\n    A & B--> C & D\n", _e("A>C", "A>D", "B>C", "B>D")
    ),
    Example("circle-edge", "flowchart LR\n    A --o B\n", _e("A>B")),
    Example("cross-edge", "flowchart LR\n    A --x B\n", _e("A>B")),
    Example(
        "special-characters",
        'flowchart LR\n    id1["This is the (text) in the box"]\n',
        _e(),
    ),
    Example(
        "entity-codes",
        '    flowchart LR\n        A["A double quote:#quot;"] --> B["A dec char:#9829;"]\n',
        _e("A>B"),
    ),
    Example(
        "subgraphs",
        "flowchart TB\n    c1-->a2\n    subgraph one\n    a1-->a2\n    end\n"
        "    subgraph two\n    b1-->b2\n    end\n    subgraph three\n    c1-->c2\n    end\n",
        _e("c1>a2", "a1>a2", "b1>b2", "c1>c2"),
    ),
    Example(
        "subgraph-explicit-id",
        "flowchart TB\n    c1-->a2\n    subgraph ide1 [one]\n    a1-->a2\n    end\n",
        _e("c1>a2", "a1>a2"),
    ),
    Example(
        "direction-in-subgraphs",
        "flowchart LR\n  subgraph TOP\n    direction TB\n    subgraph B1\n"
        "        direction RL\n        i1 -->f1\n    end\n    subgraph B2\n"
        "        direction BT\n        i2 -->f2\n    end\n  end\n  A --> TOP --> B\n  B1 --> B2\n",
        _e("i1>f1", "i2>f2", "f1>i2", "A>i1", "f2>B"),
    ),
    Example(
        "subgraph-direction-limitation",
        "flowchart LR\n    subgraph subgraph1\n        direction TB\n"
        "        top1[top] --> bottom1[bottom]\n    end\n    subgraph subgraph2\n"
        "        direction TB\n        top2[top] --> bottom2[bottom]\n    end\n"
        "    %% ^ These subgraphs are identical, except for the links to them:\n\n"
        "    %% Link *to* subgraph1: subgraph1 direction is maintained\n"
        "    outside --> subgraph1\n    %% Link *within* subgraph2:\n"
        "    %% subgraph2 inherits the direction of the top-level graph (LR)\n"
        "    outside ---> top2\n",
        _e("top1>bottom1", "top2>bottom2", "outside>top1", "outside>top2"),
    ),
    Example(
        "markdown-strings",
        '%%{init: {"flowchart": {"htmlLabels": false}} }%%\nflowchart LR\nsubgraph "One"\n'
        '  a("`The **cat**\n  in the hat`") -- "edge label" --> b{{"`The **dog** in the hog`"}}\n'
        'end\nsubgraph "`**Two**`"\n'
        '  c("`The **cat**\n  in the hat`") -- "`Bold **edge label**`"'
        ' --> d("The dog in the hog")\n'
        "end\n",
        _e("a>b", "c>d"),
    ),
    Example(
        "interaction-click",
        "flowchart LR\n    A-->B\n    B-->C\n    C-->D\n"
        '    click A callback "Tooltip for a callback"\n'
        '    click B "https://www.github.com" "This is a tooltip for a link"\n'
        '    click C call callback() "Tooltip for a callback"\n'
        '    click D href "https://www.github.com" "This is a tooltip for a link"\n',
        _e("A>B", "B>C", "C>D"),
    ),
    Example(
        "comments",
        "flowchart LR\n%% this is a comment A -- text --> B{node}\n"
        "   A -- text --> B -- text2 --> C\n",
        _e("A>B", "B>C"),
    ),
    Example(
        "styling-a-node",
        "flowchart LR\n    id1(Start)-->id2(Stop)\n"
        "    style id1 fill:#f9f,stroke:#333,stroke-width:4px\n"
        "    style id2 fill:#bbf,stroke:#f66,stroke-width:2px,color:#fff,stroke-dasharray: 5 5\n",
        _e("id1>id2"),
    ),
    Example(
        "class-shorthand",
        "flowchart LR\n    A:::someclass --> B\n    classDef someclass fill:#f96\n",
        _e("A>B"),
    ),
    Example(
        "class-shorthand-groups",
        "flowchart LR\n    A:::foo & B:::bar --> C:::foobar\n    classDef foo stroke:#f00\n"
        "    classDef bar stroke:#0f0\n    classDef foobar stroke:#00f\n",
        _e("A>C", "B>C"),
    ),
    Example(
        "css-classes",
        "flowchart LR\n    A-->B[AAA<span>BBB</span>]\n    B-->D\n    class A cssClass\n"
        "    linkStyle 1 stroke:#ff3,stroke-width:4px,color:red;\n",
        _e("A>B", "B>D"),
    ),
    Example(
        "fontawesome",
        'flowchart TD\n    B["fa:fa-twitter for peace"]\n    B-->C[fa:fa-ban forbidden]\n'
        "    B-->D(fa:fa-spinner)\n    B-->E(A fa:fa-camera-retro perhaps?)\n",
        _e("B>C", "B>D", "B>E"),
    ),
    Example(
        "decision",
        "flowchart LR\n    A[Hard edge] -->|Link text| B(Round edge)\n    B --> C{Decision}\n"
        "    C -->|One| D[Result one]\n    C -->|Two| E[Result two]\n",
        _e("A>B", "B>C", "C>D", "C>E"),
    ),
    Example(
        "all-shapes",
        "graph TD;\n A[/Christmas\\]-->B[\\Go shopping/];B-->C[(Database)]-->D((circle))\n"
        " D-->E>asym]-->F{{hex}}-->G[[sub]]-->H([stadium])-->I(((double)))\n"
        " I-->J[/para/]-->K[\\alt\\]-->L(round)-->M[rect]",
        _e("A>B", "B>C", "C>D", "D>E", "E>F", "F>G", "G>H", "H>I", "I>J", "J>K", "K>L", "L>M"),
    ),
)

# (name, text, the nodes of the cycle that is reported)
CYCLIC: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("self-loop", "flowchart LR\n    A --> A\n", frozenset({"A"})),
    ("two-nodes", "flowchart LR\n    A --> B\n    B --> A\n", frozenset({"A", "B"})),
    (
        "minimum-length-of-a-link",
        "flowchart TD\n    A[Start] --> B{Is it?}\n    B -->|Yes| C[OK]\n    C --> D[Rethink]\n"
        "    D --> B\n    B ---->|No| E[End]\n",
        frozenset({"B", "C", "D"}),
    ),
    (
        "minimum-length-with-text",
        "flowchart TD\n    A[Start] --> B{Is it?}\n    B -- Yes --> C[OK]\n    C --> D[Rethink]\n"
        "    D --> B\n    B -- No ----> E[End]\n",
        frozenset({"B", "C", "D"}),
    ),
    (
        "multi-directional-arrows",
        "flowchart LR\n    A o--o B\n    B <--> C\n    C x--x D\n",
        frozenset({"A", "B"}),
    ),
    (
        "edges-to-and-from-subgraphs",
        "flowchart TB\n    c1-->a2\n    subgraph one\n    a1-->a2\n    end\n"
        "    subgraph two\n    b1-->b2\n    end\n    subgraph three\n    c1-->c2\n    end\n"
        "    one --> two\n    three --> two\n    two --> c2\n",
        frozenset({"c2", "b1", "b2"}),
    ),
)
