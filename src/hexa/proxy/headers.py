"""Which headers cross the proxy, and how redirects are made to name Hexa, not marimo."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

# RFC 9110 §7.6.1 hop-by-hop headers, plus what the proxy sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
# Never forwarded upstream: Hexa's own credentials stay with Hexa.
_REQUEST_DROP = HOP_BY_HOP | {"authorization", "content-length", "cookie"}
# marimo's `session_<port>_…` cookie is a 14-day credential for marimo's port itself,
# outside Hexa's sign-in and token revocation. Hexa sends the marimo token on every
# proxied request, so the browser needs no marimo cookie at all.
_RESPONSE_DROP = HOP_BY_HOP | {"set-cookie"}


def request_headers(
    headers: Iterable[tuple[str, str]], *, token: str, hexa_cookie: str
) -> list[tuple[str, str]]:
    """Headers for the upstream request: the marimo token injected, Hexa's cookie removed."""
    out: list[tuple[str, str]] = []
    cookies: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(
                part.strip()
                for part in value.split(";")
                if part.strip() and not part.strip().startswith(f"{hexa_cookie}=")
            )
        elif lower not in _REQUEST_DROP:
            out.append((name, value))
    if cookies:
        out.append(("cookie", "; ".join(cookies)))
    out.append(("authorization", f"Bearer {token}"))
    return out


def response_headers(
    headers: Iterable[tuple[str, str]], *, relocate: Callable[[str], str]
) -> list[tuple[str, str]]:
    """Headers for the client: hop-by-hop dropped, marimo's redirects made Hexa's paths by
    `relocate` (e.g. `Upstream.location`)."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in _RESPONSE_DROP:
            continue
        if lower in ("location", "content-location"):
            value = relocate(value)
        out.append((name, value))
    return out


def rewrite_location(value: str, upstream_origin: str) -> str:
    """`http://127.0.0.1:4321/nb/x/` -> `/nb/x/`: the upstream address never leaks."""
    if value.startswith(upstream_origin):
        rest = value[len(upstream_origin) :]
        return rest if rest.startswith("/") else "/" + rest
    parts = urlsplit(value)
    if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.scheme in ("http", "https"):
        path = parts.path or "/"
        return path + (f"?{parts.query}" if parts.query else "")
    return value
