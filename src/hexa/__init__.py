"""Hexa: marimo notebooks with an AI agent beside them."""

from __future__ import annotations

__version__ = "0.1.0"
