// Shapes of Hexa's HTTP API (DESIGN.md §3). Agent shapes live in ./agent.ts.

export type NotebookStatus = 'stopped' | 'starting' | 'running' | 'failed'

export interface Notebook {
  notebook_id: string
  name: string
  path: string
  url: string
  status: NotebookStatus | string
  reason: string | null
  created_at: string
  last_opened_at: string | null
}

export interface Me {
  name: string
  model: string
  /** The user's limit of open notebooks, when the server says it. */
  max_notebooks_per_user?: number
}

export interface Template {
  id: string
  title: string
  description: string
}

export interface OpenResult {
  notebook_id: string
  url: string
  session_id: string
}

export interface CreatedNotebook {
  notebook_id: string
  name: string
  path: string
  url: string
}

export interface GeneratedNotebook extends CreatedNotebook {
  /** What the generator wants the person to know (a stub, what a real model would add). */
  notes?: string[]
  /** Cells that still fail after the repair attempts. */
  remaining_errors?: string[]
}

export interface CellInfo {
  cell_id: string
  preview: string
  line_count: number
  cell_type: string
  runtime_state?: string | null
  has_output?: boolean
  has_errors?: boolean
  name?: string | null
}

export interface NotebookState {
  notebook_id: string
  cells: CellInfo[]
  errors: Record<string, unknown>[]
  variables: Record<string, unknown>
}

/** One problem marimo found in notebook text (422 from create, import, generate). */
export interface Diagnostic {
  line?: number | null
  cell?: string | number | null
  cell_index?: number | null
  cell_id?: string | null
  code?: string | null
  severity?: string | null
  message: string
  /** The source line at fault (Mermaid). */
  text?: string | null
  /** The nodes on a cycle (Mermaid). */
  nodes?: string[]
}
