"""Reverse proxy of each notebook's marimo UI under /nb/{notebook_id}/, HTTP and WebSocket."""
