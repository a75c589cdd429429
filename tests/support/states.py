"""Waiting on a supervisor's state changes (events, not polls), for its unit and real tests."""

from __future__ import annotations

import asyncio

from hexa.runtime.supervisor import ManagedProcess, ProcessState, Supervisor


async def wait_state(
    sup: Supervisor, notebook_id: str, state: ProcessState, timeout: float
) -> None:
    """Until the notebook is in `state` (now, or on a later change of state)."""
    reached = asyncio.Event()

    def check(nb: ManagedProcess) -> None:
        if nb.notebook_id == notebook_id and nb.state is state:
            reached.set()

    sup.on_state_change(check)
    nb = sup.get(notebook_id)
    if nb is not None:
        check(nb)
    async with asyncio.timeout(timeout):
        await reached.wait()
