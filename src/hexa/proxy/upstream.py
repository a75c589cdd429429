"""Where `/nb/<id>/…` goes: a notebook's marimo, its base path, and the file it must serve.

A marimo started for one notebook serves it under `/nb/<id>`, so paths pass as they are.
A spare's marimo was started before anyone knew which notebook it would serve: it sits at
its root and serves the person's folder, so the proxy maps `/nb/<id>/x` onto `/x` and
pins every request to the notebook's file (`?file=`), whatever file the browser asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from hexa.proxy.headers import rewrite_location

FILE_PARAM = "file"


@dataclass(frozen=True)
class Upstream:
    notebook_id: str
    origin: str  # e.g. http://127.0.0.1:4321
    base_path: str  # marimo's base URL path: /nb/<id>, or "" at its root
    file_key: str | None  # the notebook a folder-serving marimo must show

    @property
    def hexa_base(self) -> str:
        return f"/nb/{self.notebook_id}"

    def url(self, path: str, query: str = "", *, websocket: bool = False) -> str:
        """marimo's URL for Hexa's `path` (which starts with /nb/<id>) and `query`."""
        rest = path.removeprefix(self.hexa_base)
        if self.file_key is not None:
            kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != FILE_PARAM]
            query = urlencode([*kept, (FILE_PARAM, self.file_key)])
        origin = self.origin.replace("http", "ws", 1) if websocket else self.origin
        return f"{origin}{self.base_path}{rest}" + (f"?{query}" if query else "")

    def location(self, value: str) -> str:
        """A redirect from marimo, as a path under Hexa's /nb/<id>."""
        value = rewrite_location(value, self.origin)
        if self.base_path or not value.startswith("/"):
            return value  # under /nb/<id> already, or not marimo's
        return self.hexa_base + value
