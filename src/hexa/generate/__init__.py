"""Notebook generation: from Mermaid, from a prompt, from other formats; validation."""
