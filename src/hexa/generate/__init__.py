"""Notebook generation: from a Mermaid flowchart, from a prompt, from other formats, from
templates; and the validation every written notebook goes through.

Nothing here imports marimo at import time (it costs ~2 s); the functions do when called.
"""

from __future__ import annotations

from hexa.diagnostics import Diagnostic
from hexa.errors import (
    HexaError,
    InvalidNotebookError,
    MermaidCycleError,
    MermaidSyntaxError,
    MermaidTooLargeError,
    NotFoundError,
    UnsupportedError,
    WriterError,
)
from hexa.generate.flowchart import Edge, Flowchart, Node, Subgraph
from hexa.generate.importing import import_notebook, normalize_notebook_text
from hexa.generate.mermaid import parse_mermaid
from hexa.generate.pipelines import (
    CellReport,
    GenerationResult,
    generate_from_mermaid,
    generate_from_prompt,
    notebook_from_mermaid,
    notebook_from_prompt,
)
from hexa.generate.saving import write_notebook
from hexa.generate.steps import StepInput, StepSpec, plan_steps
from hexa.generate.templates import get_template, list_templates, match_template, render_template
from hexa.generate.trial_run import CellRunError, NotebookRunner, RunReport, SubprocessRunner
from hexa.generate.validation import (
    ValidationResult,
    validate_notebook,
    validate_notebook_async,
)
from hexa.generate.writers import TextModel

__all__ = [
    "CellReport",
    "CellRunError",
    "Diagnostic",
    "Edge",
    "Flowchart",
    "GenerationResult",
    "HexaError",
    "InvalidNotebookError",
    "MermaidCycleError",
    "MermaidSyntaxError",
    "MermaidTooLargeError",
    "Node",
    "NotFoundError",
    "NotebookRunner",
    "RunReport",
    "StepInput",
    "StepSpec",
    "Subgraph",
    "SubprocessRunner",
    "TextModel",
    "UnsupportedError",
    "ValidationResult",
    "WriterError",
    "generate_from_mermaid",
    "generate_from_prompt",
    "get_template",
    "import_notebook",
    "list_templates",
    "match_template",
    "normalize_notebook_text",
    "notebook_from_mermaid",
    "notebook_from_prompt",
    "parse_mermaid",
    "plan_steps",
    "render_template",
    "validate_notebook",
    "validate_notebook_async",
    "write_notebook",
]
