// The agent API (/api/chat, approvals, history, audit, undo, the live WebSocket) and the
// UI's view of a conversation. Every reply and event is a generated wire type (./types);
// what is left here is the conversation the UI shows: tool-call chips, and the stored
// history grouped into entries.

import { http } from './client'
import type {
  AgentInfo,
  AuditLine,
  AuditLog,
  CallStatus,
  ChatHistory,
  ChatLine,
  ChatReply,
  NotebookEvent,
  NotebookEventType,
  PendingApproval,
  ToolCall,
  UndoResult,
} from './types'

const enc = encodeURIComponent

// ---------------------------------------------------------------------------------------
// The UI's own model of a conversation.

/** How a chip shows a call: the server's CallStatus, as the person reads it. */
export type ToolStatus = 'running' | 'done' | 'error' | 'awaiting_approval' | 'rejected'

const CHIP_STATUS: Record<CallStatus, ToolStatus> = {
  running: 'running',
  ok: 'done',
  error: 'error',
  invalid: 'error',
  pending_approval: 'awaiting_approval',
  denied: 'rejected',
}

/** A tool call as a chip shows it. */
export interface ToolCallView {
  id: string
  name: string
  args: Record<string, unknown>
  status: ToolStatus
  /** A short line about the result ("added cell Hbol", "3 cells"). */
  summary?: string
}

export type ChatEntry =
  | { kind: 'user'; id: string; text: string; at?: string }
  | {
      kind: 'assistant'
      id: string
      text: string
      toolCalls: ToolCallView[]
      turnId: string | null
      streaming?: boolean
      error?: string
      at?: string
    }
  | { kind: 'note'; id: string; text: string; tone?: 'info' | 'ok' | 'warn' }

export interface History {
  entries: ChatEntry[]
  approval: PendingApproval | null
}

let seq = 0
export const localId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(seq++).toString(36)}`

/** A summary on one line, cut to `max` characters. */
function shorten(text: string, max = 90): string | undefined {
  const line = text.replace(/\s+/g, ' ').trim()
  if (!line) return undefined
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** A call of a reply, a stored tool line or a `tool_call_finished` event, as a chip. */
export function callView(call: Pick<ToolCall, 'tool_call_id' | 'tool_name' | 'status' | 'summary'> & {
  arguments?: ToolCall['arguments']
}): ToolCallView {
  return {
    id: call.tool_call_id,
    name: call.tool_name,
    args: call.arguments ?? {},
    status: CHIP_STATUS[call.status],
    summary: shorten(call.summary),
  }
}

// ---------------------------------------------------------------------------------------
// The stored conversation.

/** `ChatLine.data` is an open object in the schema (`dict[str, Any] | None`). What the agent
 * stores there (hexa/agent/turns.py): a tool line holds the call's ToolCall; an assistant
 * line holds `{"error": true}` when the model failed, or the approvals it waits for. */
interface AssistantLineData {
  error?: boolean
  approvals?: PendingApproval[]
}
const toolData = (line: ChatLine) => line.data as ToolCall | null
const assistantData = (line: ChatLine) => (line.data ?? {}) as AssistantLineData

type Assistant = Extract<ChatEntry, { kind: 'assistant' }>

/** The stored conversation: user/assistant/tool/system lines, grouped into entries.
 * A run of tool lines and the assistant line that ends it make one agent entry, so a turn
 * resumed after an approval shows as a second entry after the decision. */
export function historyEntries(history: ChatHistory): History {
  const entries: ChatEntry[] = []
  let open: Assistant | null = null
  let waitingFor: { operation: string; turnId: string | null } | null = null

  const agentEntry = (turnId: string | null, at: string): Assistant => {
    if (open && (turnId === null || open.turnId === null || open.turnId === turnId)) return open
    open = { kind: 'assistant', id: localId('a'), text: '', toolCalls: [], turnId, at }
    entries.push(open)
    return open
  }

  for (const line of history.messages) {
    const { id, turn_id: turnId, content: text, created_at: at } = line
    switch (line.role) {
      case 'user':
        open = null
        waitingFor = null
        entries.push({ kind: 'user', id: `u-${id}`, text, at })
        break
      case 'tool': {
        const data = toolData(line)
        const call = data ? callView(data) : null
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
        break
      }
      case 'assistant': {
        const data = assistantData(line)
        const a = agentEntry(turnId, at)
        if (data.error) {
          a.error = text || 'The agent failed.'
          a.text = ''
        } else if (text) a.text = a.text ? `${a.text}\n\n${text}` : text
        const first = data.approvals?.[0]
        if (first) waitingFor = { operation: first.operation, turnId }
        open = null
        break
      }
      case 'system':
        open = null
        if (text) entries.push({ kind: 'note', id: `n-${id}`, text, tone: 'info' })
        break
    }
  }
  // The server's list of approvals still pending is the truth; the lines only hint.
  const pending = history.pending_approvals ?? []
  return { entries, approval: pending[pending.length - 1] ?? null }
}

// ---------------------------------------------------------------------------------------
// The live events.

/** Every event type of the schema: a type added to NotebookEvent fails to compile here
 * until it is listed (and so considered). */
const EVENT_TYPES: Record<NotebookEventType, true> = {
  turn_started: true,
  text_delta: true,
  tool_call_started: true,
  tool_call_finished: true,
  approval_requested: true,
  approval_decided: true,
  turn_done: true,
  error: true,
  run_finished: true,
  turn_undone: true,
  marimo: true,
  notebook_status: true,
  lagged: true,
}

/** One message of `WS /api/ws/{id}` (JSON already parsed) as its NotebookEvent; null for a
 * type this client does not know (a newer server), which is ignored. */
export function parseEvent(raw: unknown): NotebookEvent | null {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null
  const { type } = raw as { type?: unknown }
  return typeof type === 'string' && Object.hasOwn(EVENT_TYPES, type) ? (raw as NotebookEvent) : null
}

/** The WebSocket URL of a notebook's live events. */
export function liveUrl(notebookId: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/api/ws/${enc(notebookId)}`
}

// ---------------------------------------------------------------------------------------
// Endpoints.

export const agent = {
  info: () => http.get<AgentInfo>('/api/agent'),
  chat: (notebookId: string, message: string, cellIds?: string[]) =>
    http.post<ChatReply>('/api/chat', {
      notebook_id: notebookId,
      message,
      ...(cellIds && cellIds.length ? { context: { cell_ids: cellIds } } : {}),
    }),
  approve: (notebookId: string, approvalId: string) =>
    http.post<ChatReply>('/api/approve', { notebook_id: notebookId, approval_id: approvalId }),
  reject: (notebookId: string, approvalId: string) =>
    http.post<ChatReply>('/api/reject', { notebook_id: notebookId, approval_id: approvalId }),
  history: async (notebookId: string) =>
    historyEntries(await http.get<ChatHistory>(`/api/notebooks/${enc(notebookId)}/chat`)),
  undo: (notebookId: string) => http.post<UndoResult>(`/api/notebooks/${enc(notebookId)}/undo`),
  audit: async (notebookId: string): Promise<AuditLine[]> =>
    (await http.get<AuditLog>(`/api/notebooks/${enc(notebookId)}/audit`)).entries,
}
