"""marimo's static assets, served by Hexa itself.

marimo serves `{base}/assets/*` as a plain static mount of files that ship in its package,
named by content hash and identical for every notebook. When marimo runs from Hexa's own
interpreter they are the very same files, so Hexa answers those requests from disk instead
of relaying them through a second server: the editor loads 700 of them on first open.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles


def marimo_assets_dir(python: Path) -> Path | None:
    """The installed marimo's asset folder, when `python` is this interpreter."""
    if Path(python).resolve() != Path(sys.executable).resolve():
        return None
    spec = importlib.util.find_spec("marimo")
    if spec is None or spec.origin is None:
        return None
    assets = Path(spec.origin).parent / "_static" / "assets"
    return assets if assets.is_dir() else None


async def asset_response(static: StaticFiles, path: str, request: Request) -> Response:
    """One asset; content-hashed names never change, so the browser may keep them."""
    response = await static.get_response(path, request.scope)
    if response.status_code == 200:
        response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
