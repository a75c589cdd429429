// The adapter between the agent API (/api/chat, approvals, history, audit, the live
// WebSocket) and the UI. The agent's wire names live here and nowhere else: when they
// change, only this file changes. Every parser is tolerant: it reads the names the server
// uses today and a few obvious alternatives, and never throws on an unknown shape.

import { ApiError, http } from './client'
import type { NotebookStatus } from './types'

const enc = encodeURIComponent

// ---------------------------------------------------------------------------------------
// The UI's own model of a conversation.

export type ToolStatus = 'running' | 'done' | 'error' | 'awaiting_approval' | 'rejected'

export interface ToolCall {
  id: string
  name: string
  args: Record<string, unknown>
  status: ToolStatus
  /** A short line about the result ("added cell Hbol", "3 cells"). */
  summary?: string
}

export interface CellChange {
  cellId: string
  before: string | null
  after: string | null
}

export interface Approval {
  id: string
  operation: string
  description: string
  args: Record<string, unknown>
  /** The cells that will change, with their code before and after (when the server says). */
  changes: CellChange[]
  /** A unified diff, when the server sends one instead of `changes`. */
  diff?: string
  /** Cell ids the operation names, to look their code up when no diff came. */
  cellIds: string[]
}

export interface TurnReply {
  text: string
  toolCalls: ToolCall[]
  approval: Approval | null
  turnId: string | null
  /** Set when the model or its provider failed; `text` then says why. */
  error: string | null
}

export type ChatEntry =
  | { kind: 'user'; id: string; text: string; at?: string }
  | {
      kind: 'assistant'
      id: string
      text: string
      toolCalls: ToolCall[]
      turnId: string | null
      streaming?: boolean
      error?: string
      at?: string
    }
  | { kind: 'note'; id: string; text: string; tone?: 'info' | 'ok' | 'warn' }

export interface History {
  entries: ChatEntry[]
  approval: Approval | null
}

export type LiveEvent =
  | { type: 'text'; turnId: string | null; delta: string }
  | { type: 'tool_started'; turnId: string | null; call: ToolCall }
  | {
      type: 'tool_finished'
      turnId: string | null
      callId: string | null
      name: string
      status: ToolStatus
      summary?: string
    }
  | { type: 'approval'; turnId: string | null; approval: Approval }
  | { type: 'turn_done'; turnId: string | null; text?: string }
  | { type: 'decided'; turnId: string | null; approvalId: string | null; approved: boolean }
  /** This listener missed events (it was too slow): catch up from the stored history. */
  | { type: 'lagged' }
  | { type: 'error'; turnId: string | null; message: string }
  /** The server's word that a notebook started, stopped or failed (see parseNotebookStatus). */
  | { type: 'notebook_status'; notebookId: string; status: NotebookStatus; detail: string | null }
  | { type: 'cells_changed' }
  /** Something to tell the person outside a turn (a long run finished, a turn was undone). */
  | { type: 'note'; text: string; tone: 'info' | 'ok' | 'warn'; undo?: boolean }

export interface Command {
  /** What to type. */
  text: string
  /** What it does. */
  does?: string
}

export interface AgentInfo {
  model: string
  commands: Command[]
  /** Why the configured model cannot be used (a missing key), when the server says. */
  problem?: string
}

export interface AuditEntry {
  id: string
  at: string | null
  who: string | null
  tool: string
  args: Record<string, unknown>
  decision: string | null
  outcome: string | null
  durationMs: number | null
  prompt: string | null
  turnId: string | null
  before: string | null
  after: string | null
  error: string | null
}

// ---------------------------------------------------------------------------------------
// Small readers over unknown JSON.

type Obj = Record<string, unknown>
type Assistant = Extract<ChatEntry, { kind: 'assistant' }>
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v)
const str = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null
const pick = (o: Obj, ...keys: string[]): unknown => {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k]
  return undefined
}
const pickStr = (o: Obj, ...keys: string[]): string | null => str(pick(o, ...keys))
const asArgs = (v: unknown): Obj => {
  if (isObj(v)) return v
  if (typeof v === 'string') {
    try {
      const parsed: unknown = JSON.parse(v)
      if (isObj(parsed)) return parsed
    } catch {
      /* not JSON: keep as text */
    }
    return v ? { input: v } : {}
  }
  return {}
}

let seq = 0
export const localId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(seq++).toString(36)}`

/** A result of any shape as one short line. */
export function summarize(result: unknown, max = 90): string | undefined {
  if (result === undefined || result === null) return undefined
  let text: string
  if (typeof result === 'string') text = result
  else if (isObj(result)) {
    const s = pickStr(result, 'summary', 'message', 'detail', 'error', 'status')
    if (s) text = s
    else if (Array.isArray(result.cell_ids)) text = `cells ${(result.cell_ids as unknown[]).join(', ')}`
    else if (typeof result.cell_id === 'string') text = `cell ${result.cell_id}`
    else if (typeof result.success === 'boolean') text = result.success ? 'ok' : 'failed'
    else text = JSON.stringify(result)
  } else text = JSON.stringify(result)
  text = text.replace(/\s+/g, ' ').trim()
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function toolStatus(v: unknown, fallback: ToolStatus): ToolStatus {
  const s = (str(v) ?? '').toLowerCase()
  if (!s) return fallback
  if (['ok', 'done', 'success', 'succeeded', 'finished', 'completed', 'applied', 'approved'].includes(s)) return 'done'
  if (['error', 'failed', 'failure', 'exception', 'expired', 'invalid'].includes(s)) return 'error'
  if (['pending', 'pending_approval', 'awaiting_approval', 'needs_approval', 'deferred'].includes(s))
    return 'awaiting_approval'
  if (['rejected', 'denied', 'declined'].includes(s)) return 'rejected'
  if (['running', 'started', 'in_progress'].includes(s)) return 'running'
  return fallback
}

function parseToolCall(raw: unknown, fallback: ToolStatus = 'done'): ToolCall | null {
  if (!isObj(raw)) return null
  const name = pickStr(raw, 'tool_name', 'name', 'tool')
  if (!name) return null
  const result = pick(raw, 'result_summary', 'summary', 'result', 'output', 'content')
  const isError = raw.ok === false || raw.is_error === true || raw.error != null
  return {
    id: pickStr(raw, 'tool_call_id', 'call_id', 'id') ?? localId('call'),
    name,
    args: asArgs(pick(raw, 'arguments', 'args', 'input')),
    status: isError ? 'error' : toolStatus(pick(raw, 'status', 'outcome', 'state'), fallback),
    summary: summarize(isError && raw.error != null ? raw.error : result),
  }
}

function cellIdsOf(args: Obj): string[] {
  const ids = pick(args, 'cell_ids', 'cells')
  if (Array.isArray(ids)) return ids.map((x) => (isObj(x) ? pickStr(x, 'cell_id', 'id') : str(x))).filter((x): x is string => !!x)
  const one = pickStr(args, 'cell_id', 'id')
  return one ? [one] : []
}

function parseChanges(raw: unknown): CellChange[] {
  if (!Array.isArray(raw)) return []
  const out: CellChange[] = []
  for (const c of raw) {
    if (!isObj(c)) continue
    const cellId = pickStr(c, 'cell_id', 'id', 'cell') ?? '?'
    const before = pick(c, 'before', 'code_before', 'old_code', 'old', 'code')
    const after = pick(c, 'after', 'code_after', 'new_code', 'new')
    out.push({
      cellId,
      before: typeof before === 'string' ? before : null,
      after: typeof after === 'string' ? after : null,
    })
  }
  return out
}

const CELL_HEADER = /^# cell ([A-Za-z0-9_-]+)\n/

/** Code of several cells joined as "# cell <id>\n<code>" blocks, split back by cell. */
function splitJoined(text: string): Map<string, string> | null {
  if (!CELL_HEADER.test(text)) return null
  const cells = new Map<string, string>()
  for (const block of text.split(/\n\n(?=# cell [A-Za-z0-9_-]+\n)/)) {
    const m = CELL_HEADER.exec(block)
    if (!m) return null
    cells.set(m[1], block.slice(m[0].length))
  }
  return cells
}

/** `code_before` / `code_after` as per-cell changes (or one whole-notebook change). */
export function changesFromCode(before: string | null, after: string | null): CellChange[] {
  if (before === null && after === null) return []
  const b = before !== null ? splitJoined(before) : new Map<string, string>()
  const a = after !== null ? splitJoined(after) : new Map<string, string>()
  if (b && a) {
    const ids = [...new Set([...b.keys(), ...a.keys()])]
    return ids.map((id) => ({ cellId: id, before: b.get(id) ?? null, after: a.get(id) ?? null }))
  }
  return [{ cellId: '', before, after }]
}

export function parseApproval(raw: unknown): Approval | null {
  if (!isObj(raw)) return null
  const id = pickStr(raw, 'id', 'approval_id')
  if (!id) return null
  const args = asArgs(pick(raw, 'arguments', 'args'))
  const preview = isObj(raw.preview) ? raw.preview : {}
  let changes = parseChanges(pick(raw, 'changes', 'cells', 'affected_cells') ?? pick(preview, 'changes', 'cells'))
  if (changes.length === 0) {
    const before = pickStr(raw, 'code_before') ?? pickStr(preview, 'code_before')
    const after = pickStr(raw, 'code_after') ?? pickStr(preview, 'code_after')
    changes = changesFromCode(before, after)
  }
  const diff = pickStr(raw, 'diff') ?? pickStr(preview, 'diff') ?? undefined
  const operation = pickStr(raw, 'operation', 'tool_name', 'tool') ?? 'operation'
  return {
    id,
    operation,
    description: pickStr(raw, 'description', 'message', 'summary') ?? `The agent wants to run ${operation}.`,
    args,
    changes,
    diff,
    cellIds: changes.length ? changes.map((c) => c.cellId).filter(Boolean) : cellIdsOf(args),
  }
}

export function parseReply(raw: unknown): TurnReply {
  const o = isObj(raw) ? raw : {}
  const calls = Array.isArray(o.tool_calls) ? o.tool_calls : []
  const approval = parseApproval(o.pending_approval)
  const toolCalls = calls.map((c) => parseToolCall(c)).filter((c): c is ToolCall => !!c)
  if (approval) {
    // The call waiting for a yes is shown as waiting, not as done.
    const waiting = [...toolCalls].reverse().find((c) => c.name === approval.operation && c.status === 'done')
    if (waiting) waiting.status = 'awaiting_approval'
  }
  const error = pickStr(o, 'error') ?? (pickStr(o, 'status') === 'failed' ? 'The agent failed.' : null)
  return {
    text: pickStr(o, 'message', 'text', 'content') ?? '',
    toolCalls,
    approval,
    turnId: pickStr(o, 'turn_id', 'turn'),
    error,
  }
}

/** The stored conversation: user/assistant/tool/system lines, grouped into entries.
 * A run of tool lines and the assistant line that ends it make one agent entry, so a turn
 * resumed after an approval shows as a second entry after the decision. */
export function parseHistory(raw: unknown): History {
  const list: unknown[] = Array.isArray(raw)
    ? raw
    : isObj(raw) && Array.isArray(raw.messages)
      ? raw.messages
      : []
  const entries: ChatEntry[] = []
  let approval: Approval | null = null
  let open: Assistant | null = null
  let waitingFor: { operation: string; turnId: string | null } | null = null

  const agentEntry = (turnId: string | null, at?: string): Assistant => {
    if (open && (turnId === null || open.turnId === null || open.turnId === turnId)) return open
    open = { kind: 'assistant', id: localId('a'), text: '', toolCalls: [], turnId, at }
    entries.push(open)
    return open
  }

  for (const m of list) {
    if (!isObj(m)) continue
    const role = (pickStr(m, 'role', 'kind') ?? '').toLowerCase()
    const data = isObj(m.data) ? m.data : {}
    const content = pick(m, 'content', 'text', 'message')
    const text = typeof content === 'string' ? content : ''
    const turnId = pickStr(m, 'turn_id') ?? pickStr(data, 'turn_id')
    const at = pickStr(m, 'created_at', 'at', 'timestamp') ?? undefined
    const id = pickStr(m, 'id') ?? localId('m')
    if (role === 'user') {
      open = null
      waitingFor = null
      approval = null
      entries.push({ kind: 'user', id: `u-${id}`, text, at })
    } else if (role === 'tool') {
      const call = parseToolCall({ ...data, summary: pick(data, 'summary', 'result') ?? (text || undefined) })
      if (call && waitingFor && waitingFor.turnId === turnId && call.name === waitingFor.operation) {
        // The turn resumed after a decision: say which, as the live view did.
        const rejected = call.status === 'rejected'
        entries.push({
          kind: 'note',
          id: `d-${id}`,
          text: `You ${rejected ? 'rejected' : 'approved'} ${call.name.replace(/_/g, ' ')}.`,
          tone: rejected ? 'warn' : 'ok',
        })
        waitingFor = null
        // Earlier chips of this call are decided now.
        for (const e of entries)
          if (e.kind === 'assistant')
            e.toolCalls = e.toolCalls.map((c) =>
              c.status === 'awaiting_approval' && c.name === call.name
                ? { ...c, status: rejected ? 'rejected' : 'done', summary: rejected ? 'rejected by you' : 'approved' }
                : c,
            )
      }
      const a = agentEntry(turnId, at)
      if (call) {
        const i = a.toolCalls.findIndex((x) => x.id === call.id)
        if (i >= 0) a.toolCalls[i] = { ...a.toolCalls[i], ...call }
        else a.toolCalls.push(call)
      }
    } else if (role === 'assistant' || role === 'model') {
      const a = agentEntry(turnId, at)
      if (text) a.text = a.text ? `${a.text}\n\n${text}` : text
      if (data.error === true) a.error = text || 'The agent failed.'
      if (data.error === true) a.text = ''
      const pending = Array.isArray(data.approvals) ? data.approvals : data.pending_approval ? [data.pending_approval] : []
      const first = pending.map(parseApproval).find((x): x is Approval => !!x) ?? null
      if (first) {
        approval = first
        waitingFor = { operation: first.operation, turnId }
      }
      open = null
    } else if (role === 'system' || role === 'note' || role === 'event') {
      open = null
      if (text) entries.push({ kind: 'note', id: `n-${id}`, text, tone: 'info' })
    }
  }
  // The server's list of approvals still pending is the truth; the lines only hint.
  if (isObj(raw) && Array.isArray(raw.pending_approvals)) {
    const pending = raw.pending_approvals.map(parseApproval).filter((x): x is Approval => !!x)
    approval = pending[pending.length - 1] ?? null
  }
  return { entries, approval }
}

/** One message of `WS /api/ws/{id}`, or null for what the UI does not show. */
export function parseEvent(raw: unknown): LiveEvent | null {
  if (!isObj(raw)) return null
  const type = (pickStr(raw, 'type', 'event', 'kind') ?? '').toLowerCase().replace(/[.-]/g, '_')
  const data = isObj(raw.data) ? { ...raw.data, ...raw } : raw
  const turnId = pickStr(data, 'turn_id', 'turn')
  switch (type) {
    case 'text_delta':
    case 'delta':
    case 'text':
    case 'assistant_delta':
    case 'message_delta': {
      const delta = pickStr(data, 'delta', 'text', 'content')
      return delta ? { type: 'text', turnId, delta } : null
    }
    case 'tool_call_started':
    case 'tool_started':
    case 'tool_call': {
      const call = parseToolCall(data, 'running')
      return call ? { type: 'tool_started', turnId, call: { ...call, status: 'running', summary: undefined } } : null
    }
    case 'tool_call_finished':
    case 'tool_finished':
    case 'tool_result':
    case 'tool_call_done': {
      const call = parseToolCall(data, 'done')
      if (!call) return null
      return {
        type: 'tool_finished',
        turnId,
        callId: pickStr(data, 'tool_call_id', 'call_id', 'id'),
        name: call.name,
        status: call.status === 'running' ? 'done' : call.status,
        summary: call.summary,
      }
    }
    case 'approval_requested':
    case 'approval':
    case 'pending_approval': {
      const approval = parseApproval(pick(data, 'approval', 'pending_approval') ?? data)
      return approval ? { type: 'approval', turnId, approval } : null
    }
    case 'turn_done':
    case 'turn_finished':
    case 'turn_end':
    case 'done':
      return { type: 'turn_done', turnId, text: pickStr(data, 'message', 'text') ?? undefined }
    case 'error':
    case 'turn_error':
      return { type: 'error', turnId, message: pickStr(data, 'message', 'detail', 'error') ?? 'The agent failed.' }
    case 'approval_decided':
      return {
        type: 'decided',
        turnId,
        approvalId: pickStr(data, 'approval_id'),
        approved: (pickStr(data, 'decision') ?? '').toLowerCase().startsWith('approv'),
      }
    case 'lagged':
      return { type: 'lagged' }
    case 'turn_undone':
      return { type: 'note', text: pickStr(data, 'message') ?? 'The last agent turn was undone.', tone: 'info', undo: true }
    case 'run_finished': {
      const ok = data.ok !== false
      const text = pickStr(data, 'message') ?? `${pickStr(data, 'tool_name') ?? 'A run'} ${ok ? 'finished' : 'failed'}.`
      return { type: 'note', text, tone: ok ? 'ok' : 'warn' }
    }
    case 'notebook_status':
      return parseNotebookStatus(raw)
    default: {
      // marimo's own notifications ({op: "cell-op", ...}) say the notebook changed.
      const op = pickStr(data, 'op', 'name')
      if (type === 'marimo' || (op && op.startsWith('cell'))) return { type: 'cells_changed' }
      return null
    }
  }
}

const NOTEBOOK_STATUSES: readonly string[] = ['stopped', 'starting', 'running', 'failed'] satisfies NotebookStatus[]

/** `{"type": "notebook_status", "notebook_id", "status", "detail"}` exactly, unlike the other
 * parsers: it overwrites the cached status of a notebook, so a guess would do harm. */
function parseNotebookStatus(raw: Obj): LiveEvent | null {
  const { type, notebook_id: notebookId, status, detail } = raw
  if (type !== 'notebook_status' || typeof notebookId !== 'string' || !notebookId) return null
  if (typeof status !== 'string' || !NOTEBOOK_STATUSES.includes(status)) return null
  if (detail !== null && typeof detail !== 'string') return null
  return { type: 'notebook_status', notebookId, status: status as NotebookStatus, detail }
}

export function parseAudit(raw: unknown): AuditEntry[] {
  const list: unknown[] = Array.isArray(raw) ? raw : isObj(raw) && Array.isArray(raw.entries) ? raw.entries : []
  return list.filter(isObj).map((e) => {
    const duration = pick(e, 'duration_ms', 'duration')
    let durationMs: number | null = null
    if (typeof duration === 'number') durationMs = 'duration_ms' in e ? duration : duration * 1000
    return {
      id: pickStr(e, 'id') ?? localId('audit'),
      at: pickStr(e, 'at', 'created_at', 'timestamp', 'when'),
      who: pickStr(e, 'who', 'user', 'user_name', 'actor'),
      tool: pickStr(e, 'tool', 'tool_name', 'operation', 'action') ?? '—',
      args: asArgs(pick(e, 'arguments', 'args')),
      decision: pickStr(e, 'decision', 'approval'),
      turnId: pickStr(e, 'turn_id'),
      outcome: summarize(pick(e, 'outcome', 'result', 'status')) ?? null,
      durationMs,
      prompt: pickStr(e, 'prompt'),
      before: pickStr(e, 'code_before', 'before'),
      after: pickStr(e, 'code_after', 'after'),
      error: pickStr(e, 'error'),
    }
  })
}

// ---------------------------------------------------------------------------------------
// Endpoints.

const BUILTIN_COMMANDS: Command[] = [
  'add a cell: ```python ...```',
  'edit cell <id>: ```python ...```',
  'run all',
  'run cell <id>',
  'delete cell <id>',
  'move cell <id> after <id>',
  'list cells',
  'show errors',
  'show variables',
  'restart kernel',
  'help',
].map((text) => ({ text }))

export const agent = {
  async info(fallbackModel: string): Promise<AgentInfo> {
    try {
      const raw = await http.get<unknown>('/api/agent')
      const o = isObj(raw) ? raw : {}
      const model = pickStr(o, 'model') ?? fallbackModel
      const builtin = o.builtin === true || model === 'builtin'
      const cmds: Command[] = Array.isArray(o.commands)
        ? o.commands
            .map((c): Command | null => {
              const text = isObj(c) ? pickStr(c, 'command', 'example', 'usage', 'name') : str(c)
              return text ? { text, does: isObj(c) ? (pickStr(c, 'does', 'description') ?? undefined) : undefined } : null
            })
            .filter((c): c is Command => !!c)
        : []
      return {
        model,
        commands: cmds.length ? cmds : builtin ? BUILTIN_COMMANDS : [],
        problem: pickStr(o, 'problem') ?? undefined,
      }
    } catch (err) {
      if (err instanceof ApiError && err.notAvailable)
        return { model: fallbackModel, commands: fallbackModel === 'builtin' ? BUILTIN_COMMANDS : [] }
      throw err
    }
  },
  chat: async (notebookId: string, message: string, cellIds?: string[]) =>
    parseReply(
      await http.post<unknown>('/api/chat', {
        notebook_id: notebookId,
        message,
        ...(cellIds && cellIds.length ? { context: { cell_ids: cellIds } } : {}),
      }),
    ),
  approve: async (notebookId: string, approvalId: string) =>
    parseReply(await http.post<unknown>('/api/approve', { notebook_id: notebookId, approval_id: approvalId })),
  reject: async (notebookId: string, approvalId: string) =>
    parseReply(await http.post<unknown>('/api/reject', { notebook_id: notebookId, approval_id: approvalId })),
  history: async (notebookId: string) => parseHistory(await http.get<unknown>(`/api/notebooks/${enc(notebookId)}/chat`)),
  undo: async (notebookId: string): Promise<string> => {
    const raw = await http.post<unknown>(`/api/notebooks/${enc(notebookId)}/undo`)
    return (isObj(raw) && (pickStr(raw, 'message', 'detail', 'summary') ?? null)) || 'Undid the last agent turn.'
  },
  audit: async (notebookId: string) => parseAudit(await http.get<unknown>(`/api/notebooks/${enc(notebookId)}/audit`)),
}

/** The WebSocket URL of a notebook's live events. */
export function liveUrl(notebookId: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/api/ws/${enc(notebookId)}`
}
