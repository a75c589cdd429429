"""Exceptions the store raises for expected failures (the API maps them to HTTP codes)."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's own exceptions."""


class Conflict(StoreError):
    """The row would clash with an existing one (a taken name, id or path): HTTP 409."""
