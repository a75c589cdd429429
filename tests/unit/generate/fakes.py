"""Fakes for the generation seams: a scripted stand-in for the language model and a runner
that pretends to run notebooks. Neither is a model or a kernel; both are scripts."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from hexa.generate import CellRunError, RunReport


class ScriptedModel:
    """A fake of the model. Replies come from `script(system, prompt, n)`, where n counts
    the earlier calls with the same key (the variable a cell prompt asks for, or "notebook")."""

    def __init__(self, script: Callable[[str, str, int], str]) -> None:
        self.script = script
        self.prompts: list[str] = []
        self.counts: dict[str, int] = {}

    async def complete(self, system: str, prompt: str) -> str:
        self.prompts.append(prompt)
        key = cell_variable(prompt) or "notebook"
        n = self.counts.get(key, 0)
        self.counts[key] = n + 1
        await asyncio.sleep(0)
        return self.script(system, prompt, n)

    def prompts_for(self, variable: str) -> list[str]:
        return [p for p in self.prompts if cell_variable(p) == variable]


def cell_variable(prompt: str) -> str | None:
    match = re.search(r"Define the variable `(\w+)`", prompt)
    return match.group(1) if match else None


class FakeRunner:
    """Pretends to run a notebook: a cell fails with ZeroDivisionError when its code has
    `1 / 0`; `timeout=True` makes every run time out."""

    def __init__(self, timeout: bool = False) -> None:
        self.timeout = timeout
        self.texts: list[str] = []

    async def run(self, text: str) -> RunReport:
        self.texts.append(text)
        if self.timeout:
            return RunReport(
                (CellRunError(None, "TimeoutError", "the run took over 1 s"),), timed_out=True
            )
        cells = text.split("\n@app.cell")[1:]
        errors = tuple(
            CellRunError(
                cell_index=index,
                error_type="ZeroDivisionError",
                message="division by zero",
                traceback="Traceback (most recent call last):\nZeroDivisionError: division by zero",
            )
            for index, code in enumerate(cells)
            if "1 / 0" in code
        )
        return RunReport(errors)
