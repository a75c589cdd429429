"""A test run stopped by SIGTERM (CI's time limit, `tests/lanes.sh` stopping a lane) ends
the way Ctrl-C ends it: the running test is interrupted and pytest still tears down every
fixture, so no marimo, `hexa serve`, PostgreSQL or dockerd (nor a mount of its) outlives
the run. Python's default for SIGTERM ends the process at once and skips all teardown.

Not Ctrl-C in two ways, both no worse than the default: inside an asyncio test the
interrupt is raised where the loop is (a callback it lands in is lost, which a fixture's
teardown may then wait for: a second SIGTERM ends the run), and a SIGTERM during teardown
cuts the finalizer it lands in short."""

from __future__ import annotations

import signal
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM (someone insisting) ends the run at once, as before.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def stop_on_sigterm_like_ctrl_c() -> None:
    """Call in the main thread (pytest_configure is)."""
    signal.signal(signal.SIGTERM, _interrupt)
