"""A flowchart as an ordered plan of notebook cells: one step per node.

Each step defines one variable named after its node and reads the variables of the nodes with
an edge into it, so marimo's dependency graph between the step cells is the chart's graph.
A decision node (`{ }`) defines the value that picks a branch; the steps behind its edges run
only when their branch is taken (their `guard`) and are None otherwise.
"""

from __future__ import annotations

import builtins
import heapq
import keyword
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hexa.errors import MermaidCycleError
from hexa.generate.codegen import py_str
from hexa.generate.flowchart import Edge, Flowchart, NodeShape

# Names a step may not take: the notebook's own (`mo` is imported by the chart cell) and
# marimo's module-level names.
RESERVED_NAMES: frozenset[str] = frozenset(
    {"mo", "marimo", "app", "setup", "__generated_with", "__name__", "__file__"}
)


@dataclass(frozen=True)
class Branch:
    """One way out of a decision: its name (edge label, else the target's label), the value
    of the decision's variable that takes it, and the nodes it leads to."""

    name: str
    value: bool | str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class StepInput:
    """A variable a step reads: the variable of a predecessor node and the edge's labels."""

    node_id: str
    variable: str
    label: str
    edge_labels: tuple[str, ...]
    decision: bool
    # For a decision input: the branches of it that lead to this step.
    branches: tuple[Branch, ...] = ()


@dataclass(frozen=True)
class StepSpec:
    """What one cell must do: define `variable` for node `node_id`, reading only `inputs`."""

    node_id: str
    variable: str
    label: str
    shape: NodeShape
    inputs: tuple[StepInput, ...]
    successors: tuple[str, ...]  # node ids
    # For a decision node: its branches; the first is taken by True (or its own name).
    branches: tuple[Branch, ...] = ()
    # A Python expression over the inputs; when it is false the step's value is None.
    guard: str | None = None

    @property
    def decision(self) -> bool:
        return self.shape == "diamond"

    @property
    def boolean_decision(self) -> bool:
        return self.decision and len(self.branches) <= 2


def plan_steps(chart: Flowchart) -> tuple[StepSpec, ...]:
    """The steps of `chart` in a topological order (ties: order of first appearance).

    Raises MermaidCycleError naming the nodes of a cycle when there is one.
    """
    edges = chart.data_edges()
    order = {node.id: index for index, node in enumerate(chart.nodes)}
    parents: dict[str, list[str]] = {node.id: [] for node in chart.nodes}
    children: dict[str, list[str]] = {node.id: [] for node in chart.nodes}
    for edge in edges:
        if edge.target not in children[edge.source]:
            children[edge.source].append(edge.target)
        if edge.source not in parents[edge.target]:
            parents[edge.target].append(edge.source)
    cycle = find_cycle([node.id for node in chart.nodes], children)
    if cycle:
        raise MermaidCycleError(cycle)

    variables = variable_names(node.id for node in chart.nodes)
    branches = {node.id: _branches(chart, node.id, edges) for node in chart.nodes if node.decision}
    ordered = _topological(order, parents, children)
    rank = {node_id: index for index, node_id in enumerate(ordered)}
    steps = []
    for node_id in ordered:
        node = chart.node(node_id)
        inputs = tuple(
            _input(chart, parent, node_id, variables, edges, branches.get(parent, ()))
            for parent in sorted(parents[node_id], key=rank.__getitem__)
        )
        steps.append(
            StepSpec(
                node_id=node_id,
                variable=variables[node_id],
                label=node.label,
                shape=node.shape,
                inputs=inputs,
                successors=tuple(children[node_id]),
                branches=branches.get(node_id, ()),
                guard=_guard(inputs),
            )
        )
    return tuple(steps)


def variable_names(node_ids: Iterable[str]) -> dict[str, str]:
    """A unique, safe Python identifier per node id, as close to the id as possible."""
    taken: set[str] = set()
    names: dict[str, str] = {}
    for node_id in node_ids:
        base = safe_identifier(node_id)
        name, counter = base, 2
        while name in taken:
            name = f"{base}_{counter}"
            counter += 1
        taken.add(name)
        names[node_id] = name
    return names


def safe_identifier(text: str) -> str:
    # ASCII only: the name has to be typed by people and models alike.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    # A leading underscore would make the name private to its cell in marimo.
    name = re.sub(r"_+", "_", re.sub(r"\W", "_", ascii_text)).strip("_")
    if not name:
        name = "step"
    if name[0].isdigit():
        name = f"step_{name}"
    if (
        keyword.iskeyword(name)
        or keyword.issoftkeyword(name)
        or name in RESERVED_NAMES
        or hasattr(builtins, name)
    ):
        name = f"{name}_step"
    return name


def find_cycle(nodes: Sequence[str], children: dict[str, list[str]]) -> list[str]:
    """The nodes of one cycle in edge order, or [] when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in nodes:
        if root in state:
            continue
        path: list[str] = [root]
        iterators = [iter(children.get(root, ()))]
        state[root] = 1
        while iterators:
            child = next(iterators[-1], None)
            if child is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(child) == 1:
                return path[path.index(child) :]
            elif child not in state:
                state[child] = 1
                path.append(child)
                iterators.append(iter(children.get(child, ())))
    return []


def _topological(
    order: dict[str, int], parents: dict[str, list[str]], children: dict[str, list[str]]
) -> list[str]:
    waiting = {node_id: len(ps) for node_id, ps in parents.items()}
    ready = [(order[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    result: list[str] = []
    while ready:
        _, node_id = heapq.heappop(ready)
        result.append(node_id)
        for child in children[node_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (order[child], child))
    return result


def _branches(chart: Flowchart, node_id: str, edges: Sequence[Edge]) -> tuple[Branch, ...]:
    names: list[str] = []
    targets: dict[str, list[str]] = {}
    for edge in edges:
        if edge.source != node_id:
            continue
        name = edge.label or chart.node(edge.target).label
        if name not in targets:
            names.append(name)
            targets[name] = []
        if edge.target not in targets[name]:
            targets[name].append(edge.target)
    boolean = len(names) <= 2
    return tuple(
        Branch(name, (index == 0) if boolean else name, tuple(targets[name]))
        for index, name in enumerate(names)
    )


def _input(
    chart: Flowchart,
    parent: str,
    child: str,
    variables: dict[str, str],
    edges: Sequence[Edge],
    parent_branches: tuple[Branch, ...],
) -> StepInput:
    labels = tuple(
        dict.fromkeys(
            e.label for e in edges if e.source == parent and e.target == child and e.label
        )
    )
    node = chart.node(parent)
    return StepInput(
        node_id=parent,
        variable=variables[parent],
        label=node.label,
        edge_labels=labels,
        decision=node.decision,
        branches=tuple(b for b in parent_branches if child in b.targets),
    )


def _guard(inputs: Sequence[StepInput]) -> str | None:
    """Run when any way in is open: a decision input on one of our branches, or a plain
    input that has a value. Without decision inputs a step always runs."""
    if not any(i.decision for i in inputs):
        return None
    parts: list[str] = []
    for item in inputs:
        values = [b.value for b in item.branches]
        if not item.decision or len(values) == 0:
            parts.append(f"{item.variable} is not None")
        elif all(isinstance(v, bool) for v in values):
            if len(set(values)) == 1:
                parts.append(f"{item.variable} is {values[0]}")
            else:
                parts.append(f"{item.variable} is not None")
        elif len(values) == 1:
            parts.append(f"{item.variable} == {py_str(str(values[0]))}")
        else:
            options = ", ".join(py_str(str(v)) for v in values)
            parts.append(f"{item.variable} in ({options})")
    return " or ".join(dict.fromkeys(parts))
