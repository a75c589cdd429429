// One notebook's conversation as a reducer: its entries, the approval waiting for a yes,
// what the panel is busy with, and how loading the stored history went. The assistant
// entry of a running turn is filled in by its live events, then settled by the reply.

import { callView, type ChatEntry, type History, type ToolCallView } from '../api/agent'
import type { ChatReply, NotebookEvent, PendingApproval } from '../api/types'

export type Busy = null | 'chat' | 'approve' | 'reject' | 'undo'
export type TurnKind = Exclude<Busy, null | 'undo'>
type Assistant = Extract<ChatEntry, { kind: 'assistant' }>
type Note = Extract<ChatEntry, { kind: 'note' }>

/** The live events that fill in the assistant entry of a running turn. */
export type StreamEvent = Extract<
  NotebookEvent,
  { type: 'text_delta' | 'tool_call_started' | 'tool_call_finished' | 'approval_requested' | 'error' }
>

export interface Conversation {
  entries: ChatEntry[]
  approval: PendingApproval | null
  busy: Busy
  load: 'loading' | 'ready' | 'unavailable' | 'error'
  loadError: string | null
}

export const emptyConversation: Conversation = { entries: [], approval: null, busy: null, load: 'loading', loadError: null }

export type ConversationAction =
  | { type: 'loading' }
  /** `quiet`: a catch-up after a turn run elsewhere, which leaves the load state alone. */
  | { type: 'loaded'; history: History; quiet?: boolean }
  | { type: 'loadFailed'; unavailable: boolean; message: string }
  | { type: 'note'; note: Note }
  | { type: 'turnStarted'; kind: TurnKind; id: string; before: ChatEntry[] }
  | { type: 'streamed'; id: string; event: StreamEvent }
  | { type: 'turnFinished'; id: string; reply: ChatReply | null; error?: string }
  | { type: 'decided'; approval: PendingApproval; approved: boolean }
  | { type: 'undoStarted' }
  | { type: 'undone'; note: Note }
  | { type: 'undoFailed' }

/** The reply's calls, keeping what the stream already knew (its ids, a failure). */
function mergeCalls(streamed: ToolCallView[], final: ToolCallView[]): ToolCallView[] {
  if (final.length === 0) return streamed
  const used = new Set<ToolCallView>()
  return final.map((f) => {
    const s =
      streamed.find((c) => !used.has(c) && c.id === f.id) ?? streamed.find((c) => !used.has(c) && c.name === f.name)
    if (!s) return f
    used.add(s)
    return { ...f, id: s.id, summary: f.summary ?? s.summary, status: s.status === 'error' ? 'error' : f.status }
  })
}

function streamInto(a: Assistant, ev: StreamEvent): Assistant {
  switch (ev.type) {
    case 'text_delta':
      return { ...a, text: a.text + ev.delta, turnId: a.turnId ?? ev.turn_id }
    case 'tool_call_started':
      return a.toolCalls.some((c) => c.id === ev.tool_call_id)
        ? a
        : { ...a, toolCalls: [...a.toolCalls, callView({ ...ev, status: 'running', summary: '' })] }
    case 'tool_call_finished': {
      const done = callView(ev)
      const calls = [...a.toolCalls]
      let i = calls.findIndex((c) => c.id === ev.tool_call_id)
      if (i < 0) i = calls.findLastIndex((c) => c.name === ev.tool_name && c.status === 'running')
      if (i >= 0) calls[i] = { ...calls[i], status: done.status, summary: done.summary ?? calls[i].summary }
      else calls.push(done)
      return { ...a, toolCalls: calls }
    }
    case 'approval_requested':
      return {
        ...a,
        toolCalls: a.toolCalls.map((c) =>
          c.name === ev.approval.operation && c.status === 'running' ? { ...c, status: 'awaiting_approval' } : c,
        ),
      }
    case 'error':
      return { ...a, error: ev.message }
  }
}

function settle(a: Assistant, reply: ChatReply | null, error?: string): Assistant {
  const failed = error ?? (reply?.error ? reply.message || reply.error : undefined)
  return {
    ...a,
    streaming: false,
    text: failed && reply?.error ? '' : reply?.message || a.text,
    turnId: reply?.turn_id ?? a.turnId,
    toolCalls: reply ? mergeCalls(a.toolCalls, reply.tool_calls.map(callView)) : a.toolCalls,
    error: failed ?? a.error,
  }
}

const patchAssistant = (entries: ChatEntry[], id: string, fn: (a: Assistant) => Assistant) =>
  entries.map((e) => (e.id === id && e.kind === 'assistant' ? fn(e) : e))

export function conversationReducer(s: Conversation, a: ConversationAction): Conversation {
  switch (a.type) {
    case 'loading':
      return { ...s, load: 'loading' }
    case 'loaded':
      return { ...s, entries: a.history.entries, approval: a.history.approval, load: a.quiet ? s.load : 'ready' }
    case 'loadFailed':
      return a.unavailable ? { ...s, load: 'unavailable' } : { ...s, load: 'error', loadError: a.message }
    case 'note':
      return { ...s, entries: [...s.entries, a.note] }
    case 'turnStarted':
      return {
        ...s,
        busy: a.kind,
        entries: [
          ...s.entries,
          ...a.before,
          { kind: 'assistant', id: a.id, text: '', toolCalls: [], turnId: null, streaming: true },
        ],
      }
    case 'streamed':
      return {
        ...s,
        approval: a.event.type === 'approval_requested' ? a.event.approval : s.approval,
        entries: patchAssistant(s.entries, a.id, (e) => streamInto(e, a.event)),
      }
    case 'turnFinished':
      return {
        ...s,
        busy: null,
        approval: a.reply ? a.reply.pending_approval : s.approval,
        entries: patchAssistant(s.entries, a.id, (e) => settle(e, a.reply, a.error)),
      }
    case 'decided': {
      // The call that waited is now decided.
      const { operation } = a.approval
      return {
        ...s,
        approval: null,
        entries: s.entries.map((e) =>
          e.kind === 'assistant' && e.toolCalls.some((c) => c.status === 'awaiting_approval')
            ? {
                ...e,
                toolCalls: e.toolCalls.map((c) =>
                  c.status === 'awaiting_approval' && c.name === operation
                    ? { ...c, status: a.approved ? 'done' : 'rejected', summary: a.approved ? 'approved' : 'rejected by you' }
                    : c,
                ),
              }
            : e,
        ),
      }
    }
    case 'undoStarted':
      return { ...s, busy: 'undo' }
    case 'undone':
      return { ...s, busy: null, approval: null, entries: [...s.entries, a.note] }
    case 'undoFailed':
      return { ...s, busy: null }
  }
}
