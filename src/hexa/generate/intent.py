"""What a request in words asks of a table, read without a model: the data file it names,
the columns, a grouping, an aggregation, a chart kind and one filter.

The reading is deliberately literal (keywords and the words next to them), so what it
finds can be said back to the person; anything it does not find stays out of the code.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

Aggregation = Literal["sum", "mean", "count", "max", "min", "median"]
ChartKind = Literal["bar", "line", "scatter", "hist", "pie", "plot"]

DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".json")

AGGREGATIONS: dict[str, Aggregation] = {
    "total": "sum",
    "totals": "sum",
    "sum": "sum",
    "sums": "sum",
    "average": "mean",
    "averages": "mean",
    "avg": "mean",
    "mean": "mean",
    "count": "count",
    "counts": "count",
    "max": "max",
    "maximum": "max",
    "min": "min",
    "minimum": "min",
    "median": "median",
}
AGGREGATION_WORDS: dict[Aggregation, str] = {
    "sum": "total",
    "mean": "average",
    "count": "count",
    "max": "maximum",
    "min": "minimum",
    "median": "median",
}
# "monthly totals": the adjective names the grouping.
PERIOD_ADJECTIVES = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
    "yearly": "year",
    "annual": "year",
    "hourly": "hour",
}
TIME_WORDS = frozenset({"date", "day", "week", "month", "quarter", "year", "hour", "time"})
_CHART_WORDS: dict[str, ChartKind] = {
    "bar": "bar",
    "bars": "bar",
    "barplot": "bar",
    "scatter": "scatter",
    "scatterplot": "scatter",
    "histogram": "hist",
    "histograms": "hist",
    "hist": "hist",
    "distribution": "hist",
    "pie": "pie",
    "plot": "plot",
    "plots": "plot",
    "chart": "plot",
    "graph": "plot",
    "visualize": "plot",
    "visualise": "plot",
    "draw": "plot",
}
_PLOT_NOUNS = frozenset({"chart", "plot", "graph", "diagram"})
_GROUP_WORDS = frozenset({"by", "per", "across"})
_NOT_GROUPING = frozenset({"sort", "sorted", "order", "ordered", "divided", "multiplied", "rank"})
_VERSUS = frozenset({"vs", "versus", "against"})
_FILTER_STARTS = frozenset({"where", "whose", "filter", "if", "when", "only", "with"})
_OPERATORS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "=": "==", "==": "==", "!=": "!="}
_WORD_OPERATORS: dict[tuple[str, ...], str] = {
    ("is", "not"): "!=",
    ("greater", "than"): ">",
    ("more", "than"): ">",
    ("less", "than"): "<",
    ("fewer", "than"): "<",
    ("at", "least"): ">=",
    ("at", "most"): "<=",
    ("equal", "to"): "==",
    ("equals",): "==",
    ("is",): "==",
    ("above",): ">",
    ("over",): ">",
    ("exceeds",): ">",
    ("below",): "<",
    ("under",): "<",
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that never name a column, and that need no mention when left unread.
STOP_WORDS = _words(
    """
    a an the of and or in on at to for from into as with using use each every all its it
    this that these those my our your their me us i we you please then also show display
    give make create build load read open import file files data dataset table tables
    notebook compute calculate get find see let want would like can could should as well
    rows row column columns chart plot graph diagram bar line pie scatter histogram draw
    visualize visualise them what how much many number some any do over time analyse
    analyze analysis report summary summarise summarize total sum average mean count max
    min median by per across where whose filter only if when is are be than more less
    group grouped grouping broken down result results vs versus against keep csv about
    """
)


@dataclass(frozen=True)
class Condition:
    column: str
    operator: str  # a Python comparison operator
    value: float | int | str


@dataclass(frozen=True)
class Intent:
    """What was read from a request. `understood` lists it in words, for the notes;
    `unread` holds the words that meant nothing to the reader."""

    file: str | None = None
    group: str | None = None
    aggregation: Aggregation | None = None
    measure: str | None = None  # the column aggregated, charted or described
    x: str | None = None  # the other axis of a scatter or line ("price vs quantity")
    chart: ChartKind | None = None
    condition: Condition | None = None
    unread: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def actionable(self) -> bool:
        """Enough to write code for: a data file, or a grouping or chart over a column."""
        grouped = self.group is not None and (
            self.measure is not None or self.aggregation is not None or self.chart is not None
        )
        charted = self.chart is not None and (self.measure is not None or self.x is not None)
        return self.file is not None or grouped or charted

    def columns(self) -> tuple[str, ...]:
        named = [self.group, self.measure, self.x]
        if self.condition is not None:
            named.append(self.condition.column)
        return tuple(dict.fromkeys(c for c in named if c is not None))


@dataclass(frozen=True)
class _Token:
    text: str
    kind: Literal["word", "quoted", "number", "op", "file"]

    @property
    def low(self) -> str:
        return self.text.lower()


_TOKEN = re.compile(
    r"""(?P<file>"[^"\n]+?\.(?:csv|tsv|parquet|json)"|'[^'\n]+?\.(?:csv|tsv|parquet|json)'|"""
    r"""`[^`\n]+?\.(?:csv|tsv|parquet|json)`|[\w~./-]*\w\.(?:csv|tsv|parquet|json)\b)"""
    r"""|(?P<quoted>"[^"\n]+"|`[^`\n]+`|(?<!\w)'[^'\n]+'(?!\w))"""
    r"""|(?P<number>-?\d+(?:\.\d+)?)(?![\w.])"""
    r"""|(?P<op>[<>!=]=?)"""
    r"""|(?P<word>[A-Za-z_][\w]*)""",
    re.IGNORECASE,
)


def read_intent(text: str) -> Intent:
    """Read `text` (a prompt or a flowchart label) for a table operation."""
    tokens = [
        _Token(m.group(m.lastgroup).strip("\"'`"), m.lastgroup)  # type: ignore[arg-type]
        for m in _TOKEN.finditer(text)
        if m.lastgroup is not None
    ]
    return _Reader(tokens).read()


class _Reader:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.used: set[int] = set()

    def read(self) -> Intent:
        intent = Intent(file=self._file())
        intent = self._condition(intent)
        intent = self._chart(intent)
        intent = self._aggregation(intent)
        intent = self._grouping(intent)
        intent = self._measure_before_group(intent)
        unread = tuple(
            dict.fromkeys(
                t.text
                for i, t in enumerate(self.tokens)
                if i not in self.used and t.kind in ("word", "quoted") and t.low not in STOP_WORDS
            )
        )
        return replace(intent, unread=unread)

    # -- pieces --------------------------------------------------------------------------

    def _file(self) -> str | None:
        for i, token in enumerate(self.tokens):
            if token.kind == "file":
                self.used.add(i)
                return token.text
        return None

    def _condition(self, intent: Intent) -> Intent:
        for i, token in enumerate(self.tokens):
            if token.low not in _FILTER_STARTS:
                continue
            start = i + 1
            if token.low == "only" and self._low(start) in ("rows", "where"):
                start += 1
            column, after = self._column(start)
            if column is None:
                continue
            operator, after_op = self._operator(after)
            if operator is None or after_op >= len(self.tokens):
                continue
            value_token = self.tokens[after_op]
            value: float | int | str
            if value_token.kind == "number":
                number = float(value_token.text)
                whole = number.is_integer() and "." not in value_token.text
                value = int(number) if whole else number
            elif value_token.kind in ("quoted", "word") and value_token.low not in STOP_WORDS:
                value = value_token.text
            else:
                continue
            self.used.update(range(i, after_op + 1))
            return replace(intent, condition=Condition(column, operator, value))
        return intent

    def _chart(self, intent: Intent) -> Intent:
        kind: ChartKind | None = None
        for i, token in enumerate(self.tokens):
            found = _CHART_WORDS.get(token.low)
            if token.low == "line" and (
                self._low(i + 1) in _PLOT_NOUNS or self._low(i - 1) in ("a", "as")
            ):
                found = "line"
            if found is None:
                continue
            self.used.add(i)
            if self._low(i + 1) in _PLOT_NOUNS:
                self.used.add(i + 1)
            if kind is None or kind == "plot":
                kind = found
            if found in ("hist", "scatter", "plot", "line", "bar", "pie"):
                intent = self._chart_columns(intent, i + 1)
        if kind is not None:
            intent = replace(intent, chart=kind)
        return intent

    def _chart_columns(self, intent: Intent, at: int) -> Intent:
        """`histogram of amount`, `scatter of price vs quantity`, `plot amount over date`."""
        while self._low(at) in _PLOT_NOUNS or self._low(at) in ("of", "the"):
            at += 1
        if self._low(at) in AGGREGATIONS or self._low(at) in PERIOD_ADJECTIVES:
            return intent
        column, after = self._column(at)
        if column is None or intent.measure is not None:
            return intent
        self.used.update(range(at, after))
        intent = replace(intent, measure=column)
        if self._low(after) in _VERSUS or self._low(after) == "over":
            x, end = self._column(after + 1)
            if x is not None and x.lower() != "time":
                self.used.update(range(after, end))
                intent = replace(intent, x=x)
        return intent

    def _aggregation(self, intent: Intent) -> Intent:
        for i, token in enumerate(self.tokens):
            found: Aggregation | None = AGGREGATIONS.get(token.low)
            after = i + 1
            if (token.low, self._low(i + 1)) in (("number", "of"), ("how", "many")):
                found, after = "count", i + 2
            if found is None:
                continue
            self.used.update(range(i, after))
            while self._low(after) in ("of", "the"):
                after += 1
            column, end = self._column(after)
            if column is not None and (found == "count" or intent.measure is None):
                # For a count, the thing counted ("orders") is the rows themselves.
                self.used.update(range(after, end))
                if found != "count":
                    intent = replace(intent, measure=column)
            return replace(intent, aggregation=found)
        return intent

    def _grouping(self, intent: Intent) -> Intent:
        for i, token in enumerate(self.tokens):
            if token.low in PERIOD_ADJECTIVES:
                self.used.add(i)
                intent = replace(intent, group=PERIOD_ADJECTIVES[token.low])
                nxt = self._low(i + 1)
                if nxt in AGGREGATIONS and intent.aggregation is None:
                    self.used.add(i + 1)
                    intent = replace(intent, aggregation=AGGREGATIONS[nxt])
                elif intent.measure is None and nxt not in AGGREGATIONS:
                    column, end = self._column(i + 1)
                    if column is not None:
                        self.used.update(range(i + 1, end))
                        intent = replace(intent, measure=column)
                return intent
            at = None
            if token.low in _GROUP_WORDS and self._low(i - 1) not in _NOT_GROUPING:
                at = i + 1
            elif token.low == "for" and self._low(i + 1) in ("each", "every"):
                at = i + 2
            if at is None:
                continue
            while self._low(at) in ("each", "every", "the"):
                at += 1
            column, end = self._column(at)
            if column is not None:
                self.used.update(range(i, end))
                return replace(intent, group=column)
        return intent

    def _measure_before_group(self, intent: Intent) -> Intent:
        """`plot amount by region`: the column just before the grouping word."""
        if intent.measure is not None or intent.group is None:
            return intent
        for i, token in enumerate(self.tokens):
            if token.low in _GROUP_WORDS and i > 0:
                prev = self.tokens[i - 1]
                if (i - 1) not in self.used and _column_token(prev):
                    self.used.add(i - 1)
                    return replace(intent, measure=prev.text)
        return intent

    # -- helpers -------------------------------------------------------------------------

    def _low(self, i: int) -> str:
        return self.tokens[i].low if 0 <= i < len(self.tokens) else ""

    def _column(self, at: int) -> tuple[str | None, int]:
        """The column named at `at`: a quoted name, or one or two plain words joined by
        `_` ("order value" -> order_value). Returns (name, index after it); the caller
        marks the words read when it keeps the name."""
        if at >= len(self.tokens) or at < 0:
            return None, at
        token = self.tokens[at]
        if token.kind == "quoted":
            return token.text, at + 1
        if not _column_token(token):
            return None, at
        words = [token.text]
        end = at + 1
        if end < len(self.tokens) and _column_token(self.tokens[end]):
            nxt = self.tokens[end].low
            if nxt not in _CHART_WORDS and nxt not in PERIOD_ADJECTIVES and nxt != "line":
                words.append(self.tokens[end].text)
                end += 1
        return "_".join(words), end

    def _operator(self, at: int) -> tuple[str | None, int]:
        if at < len(self.tokens) and self.tokens[at].kind == "op":
            return _OPERATORS.get(self.tokens[at].text), at + 1
        for words, operator in _WORD_OPERATORS.items():
            if all(self._low(at + k) == w for k, w in enumerate(words)):
                return operator, at + len(words)
        return None, at


def _column_token(token: _Token) -> bool:
    return token.kind == "word" and token.low not in STOP_WORDS and token.low not in AGGREGATIONS


def closest_column(name: str, columns: Sequence[str]) -> str | None:
    """The real column `name` most likely means: the same name up to case, spaces,
    underscores and a plural `s`, else a close spelling; None when nothing is close."""

    def key(text: str) -> str:
        return re.sub(r"[\s_\-]+", "", text.lower())

    wanted = key(name)
    for candidate in (wanted, wanted.removesuffix("s"), wanted + "s"):
        for column in columns:
            if key(column) == candidate:
                return column
    keyed = {key(c): c for c in columns}
    close = difflib.get_close_matches(wanted, list(keyed), n=1, cutoff=0.8)
    return keyed[close[0]] if close else None


def fit_columns(intent: Intent, columns: Sequence[str], file: str) -> Intent:
    """`intent` with its column names replaced by the closest real ones of `file`, and a
    note for each name that changed or was not found."""
    notes: list[str] = []
    mapping: dict[str, str] = {}
    for name in intent.columns():
        real = closest_column(name, columns)
        if real is None:
            shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
            notes.append(f'{file} has no column like "{name}" (its columns: {shown}).')
        elif real != name:
            mapping[name] = real
            notes.append(f'"{name}" is read as the column "{real}" of {file}.')

    def fit(value: str | None) -> str | None:
        return mapping.get(value, value) if value is not None else None

    condition = intent.condition
    if condition is not None:
        condition = replace(condition, column=mapping.get(condition.column, condition.column))
    return replace(
        intent,
        group=fit(intent.group),
        measure=fit(intent.measure),
        x=fit(intent.x),
        condition=condition,
        notes=(*intent.notes, *notes),
    )


def is_time_like(column: str | None) -> bool:
    return column is not None and any(w in TIME_WORDS for w in re.split(r"[\W_]+", column.lower()))
