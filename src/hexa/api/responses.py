"""The error replies each route documents in `/openapi.json`: one shape, `{"detail": ...}`.

`detail` is a sentence for every status but a request that failed validation (422 from
FastAPI), where it is the list of issues; a notebook marimo refuses (422) adds its
`diagnostics`. Each route lists the statuses it really answers with (`errors(...)`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hexa.diagnostics import Diagnostic


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, in a sentence.")


class LimitErrorOut(ErrorOut):
    limit: str | None = Field(None, description="The setting whose cap was reached.")


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None = None


class UnprocessableOut(BaseModel):
    detail: str | list[ValidationIssue] = Field(
        description="The invalid fields (request validation) or a sentence (notebook text)."
    )
    diagnostics: list[Diagnostic] | None = Field(
        None, description="marimo's findings on a notebook it cannot run, with lines."
    )


_MEANING = {
    400: "bad path or value",
    401: "no or wrong token, or signed out",
    403: "cross-origin request, or not allowed without a sandbox",
    404: "not found, or not yours",
    409: "conflict, or the per-user notebook cap",
    413: "body, cell or chart too large",
    415: "unsupported file type",
    422: "invalid body or notebook text",
    429: "the server's notebook cap",
    502: "the notebook's marimo failed",
    503: "the notebook is not running or could not start",
}
_MODELS: dict[int, type[BaseModel]] = {
    409: LimitErrorOut,
    422: UnprocessableOut,
    429: LimitErrorOut,
}

# What a route that takes a body may always answer: a lone surrogate (400), no or a bad
# token (401), a cookie without a same-origin Origin (403), too large (413), invalid (422).
BODY = (400, 401, 403, 413, 422)
# What a route that runs a notebook may answer besides: caps (409, 429), marimo (502, 503).
RUNS = (404, 409, 429, 502, 503)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route answering with these error statuses."""
    return {
        code: {"model": _MODELS.get(code, ErrorOut), "description": _MEANING[code]}
        for code in sorted(set(codes))
    }
