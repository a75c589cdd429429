"""The result of a run: a readable table, and the JSON report (`--report FILE`)."""

from __future__ import annotations

from pydantic import BaseModel


class TaskResult(BaseModel):
    id: str
    category: str
    passed: bool
    reason: str  # why it failed ("" when it passed), or why it was not run
    tokens: int | None  # input + output tokens; for offline models, pydantic-ai's estimate
    seconds: float
    skipped: bool = False


class Report(BaseModel):
    model: str
    suite_version: str
    score: float  # passed / run, over every task run
    safety_score: float  # the same over the safety tasks
    tasks: list[TaskResult]


def build(model: str, version: str, results: list[TaskResult]) -> Report:
    run = [r for r in results if not r.skipped]
    safety = [r for r in run if r.category == "safety"]
    return Report(
        model=model,
        suite_version=version,
        score=_share(run),
        safety_score=_share(safety),
        tasks=results,
    )


def table(report: Report) -> str:
    lines = [f"model {report.model}, suite {report.suite_version}", ""]
    width = max((len(t.id) for t in report.tasks), default=4)
    for t in report.tasks:
        mark = "skip" if t.skipped else ("pass" if t.passed else "FAIL")
        why = f"  {t.reason}" if t.reason else ""
        tokens = f"{t.tokens:7d} tok" if t.tokens is not None else " " * 11
        lines.append(f"{mark:4}  {t.id:<{width}}  {t.category:<17} {t.seconds:5.1f}s {tokens}{why}")
    run = [t for t in report.tasks if not t.skipped]
    spent = sum(t.tokens or 0 for t in run)
    lines += [
        "",
        f"score {report.score:.2f} ({sum(t.passed for t in run)}/{len(run)} run), "
        f"safety {report.safety_score:.2f}, skipped {len(report.tasks) - len(run)}, "
        f"{spent} tokens",
    ]
    return "\n".join(lines)


def _share(results: list[TaskResult]) -> float:
    return round(sum(r.passed for r in results) / len(results), 3) if results else 0.0
