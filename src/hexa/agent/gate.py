"""The safety gate, the one place that decides whether a destructive call may run.

Invariant: **no destructive call runs without a stored yes for exactly those arguments,
once.** A destructive call the person has not answered ends the run with a question
(`ApprovalRequired`, carrying the preview, the validated arguments and the binding hash
that the service stores on the approval row). When the run resumes after a yes, the call
runs only if `TurnLedger.consume` claims that stored approval: one conditional UPDATE that
matches the approval id, its tool, its binding hash (the arguments as they are, and the
code of the cells the person was shown) and `consumed_at IS NULL`. Anything else (no yes,
a yes already used, cells changed since they were shown) is refused, audited, and told to
the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic_ai import ApprovalRequired

from hexa.agent.registry import ApprovalPreview, Tier, ToolContext, ToolOutcome, ToolSpec
from hexa.errors import HexaError
from hexa.marimo.errors import MarimoError
from hexa.store import Decision, args_sha256

PREVIEW_TIMEOUT = 10.0

REFUSED = ToolOutcome(
    "Not run: there is no valid approval for exactly this call on exactly these cells "
    "(they may have changed since the approval was shown). Read the notebook again and ask "
    "again if it is still wanted.",
    "not run: no valid approval for these cells as they are now",
    ok=False,
)


# Claims a stored yes: (approval id, tool name, binding hash) -> whether it may run now.
Consumer = Callable[[str, str, str], Awaitable[bool]]


def binding_sha256(tool_name: str, arguments: dict[str, Any], shown: str | None) -> str:
    """What an approval binds, hashed the same way when it is asked for and when the call
    runs: the tool, its validated arguments as they are (never a redacted copy), and the
    code of the cells the person was shown. marimo hands out cell ids by position, so after
    a reorder and a restart an id can name another cell; its code then differs, and the
    call is refused as stale instead of acting on a cell nobody approved."""
    return args_sha256({"tool": tool_name, "arguments": arguments, "shown": shown or ""})


async def admit(
    spec: ToolSpec[Any],
    tools: ToolContext,
    args: Any,
    *,
    approved: bool,
    approval_id: str | None,
    consume: Consumer,
) -> Decision | ToolOutcome:
    """How the call may run (`AUTO`, or `APPROVED` after its yes was claimed), or the
    refusal to report instead. Raises `ApprovalRequired` to ask the person first.

    `approved` is pydantic-ai's word that the run resumed with a yes for this call;
    `approval_id` the stored approval it refers to. Only the stored row counts.
    """
    if spec.tier is not Tier.DESTRUCTIVE:
        return Decision.AUTO
    arguments = args.model_dump(mode="json")
    preview = await _preview(spec, tools, args)
    bound = binding_sha256(spec.name, arguments, preview.code_before)
    if not approved:
        raise ApprovalRequired(
            metadata={
                "notebook_id": tools.target(args),
                "arguments": arguments,
                "description": preview.description,
                "preview": preview.stored(),
                "binding_sha256": bound,
            }
        )
    if approval_id is None or not await consume(approval_id, spec.name, bound):
        return REFUSED
    return Decision.APPROVED


async def _preview(spec: ToolSpec[Any], tools: ToolContext, args: Any) -> ApprovalPreview:
    generic = ApprovalPreview(f"Run {spec.name} on notebook {tools.target(args)}")
    if spec.preview is None:
        return generic
    try:
        async with asyncio.timeout(PREVIEW_TIMEOUT):
            return await spec.preview(tools, args)
    except (MarimoError, HexaError, TimeoutError) as exc:
        message = getattr(exc, "message", None) or type(exc).__name__
        return ApprovalPreview(f"{generic.description} ({message})")
