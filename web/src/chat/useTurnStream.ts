// The agent's turns in one notebook's chat: a message, an approval or a rejection starts a
// turn whose reply streams into a new assistant entry from the notebook's live events, and
// the reply settles it. Also undo, and catching up with turns run elsewhere.

import { useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useReducer, useRef } from 'react'
import { agent, localId, type ChatEntry } from '../api/agent'
import { ApiError, errorMessage } from '../api/client'
import { queryKeys } from '../api/queryClient'
import type { ChatReply, NotebookEvent } from '../api/types'
import { useToast } from '../components/Toasts'
import type { LiveHub } from '../live/hub'
import { conversationReducer, emptyConversation, type StreamEvent, type TurnKind } from './conversation'
import { useChatHistory } from './useChatHistory'

const STREAMED = new Set<NotebookEvent['type']>([
  'text_delta',
  'tool_call_started',
  'tool_call_finished',
  'approval_requested',
  'error',
])
const isStreamEvent = (ev: NotebookEvent): ev is StreamEvent => STREAMED.has(ev.type)

function turnError(err: unknown): string {
  return err instanceof ApiError && err.status === 404 && err.detail === 'Not Found'
    ? 'The agent is not available on this server.'
    : errorMessage(err)
}

export function useTurnStream({
  notebookId,
  hub,
  onRestarted,
}: {
  notebookId: string
  hub: LiveHub
  /** The agent restarted the notebook's marimo: its editor must load again. */
  onRestarted: () => void
}) {
  const client = useQueryClient()
  const toast = useToast()
  const [state, dispatch] = useReducer(conversationReducer, emptyConversation)
  // The assistant entry the running turn streams into; null between turns. A ref, because
  // live events must be routed the moment they arrive, not at the next render.
  const streamId = useRef<string | null>(null)
  // Turns this panel ran itself: their late events must not trigger a reload.
  const ownTurns = useRef(new Set<string>())
  const restarted = useRef(onRestarted)
  restarted.current = onRestarted

  const isStreaming = useCallback(() => streamId.current !== null, [])
  const { reload, reloadQuietly } = useChatHistory(notebookId, dispatch, isStreaming)

  // What the agent did is in the audit log now.
  const turnDone = () => void client.invalidateQueries({ queryKey: queryKeys.audit(notebookId) })

  useEffect(
    () =>
      hub.subscribe(notebookId, (ev) => {
        switch (ev.type) {
          case 'run_finished':
            // A long run ended after its turn: said as it comes.
            dispatch({ type: 'note', note: { kind: 'note', id: localId('n'), text: ev.message, tone: ev.ok ? 'ok' : 'warn' } })
            return
          case 'lagged':
            if (!streamId.current) reloadQuietly()
            return
          // The undo button adds its own note; the notebook's status and marimo's own
          // notifications are not the chat's.
          case 'turn_undone':
          case 'notebook_status':
          case 'marimo':
            return
        }
        const id = streamId.current
        if (!id) {
          const foreign = !ownTurns.current.has(ev.turn_id)
          if (foreign && (ev.type === 'turn_done' || ev.type === 'approval_requested' || ev.type === 'approval_decided'))
            reloadQuietly()
          return
        }
        ownTurns.current.add(ev.turn_id)
        if (isStreamEvent(ev)) dispatch({ type: 'streamed', id, event: ev })
      }),
    [hub, notebookId, reloadQuietly],
  )

  function finish(id: string, reply: ChatReply | null, error?: string) {
    dispatch({ type: 'turnFinished', id, reply, error })
    streamId.current = null
    if (reply) {
      ownTurns.current.add(reply.turn_id)
      if (reply.tool_calls.some((c) => c.tool_name === 'restart_kernel' && c.status === 'ok')) restarted.current()
    }
    turnDone()
  }

  /** Run one request that makes the agent take a turn, streaming into a new entry. */
  function runTurn(kind: TurnKind, before: ChatEntry[], call: () => Promise<ChatReply>) {
    const id = localId('a')
    streamId.current = id
    dispatch({ type: 'turnStarted', kind, id, before })
    call().then(
      (reply) => finish(id, reply),
      (err: unknown) => finish(id, null, turnError(err)),
    )
  }

  /** Send a message; false when a turn or an undo is still under way. */
  function send(text: string): boolean {
    if (state.busy) return false
    runTurn('chat', [{ kind: 'user', id: localId('u'), text, at: new Date().toISOString() }], () =>
      agent.chat(notebookId, text),
    )
    return true
  }

  /** Approve or reject the waiting approval, which resumes the turn; false when there is none. */
  function decide(approved: boolean): boolean {
    const approval = state.approval
    if (!approval || state.busy) return false
    dispatch({ type: 'decided', approval, approved })
    const what = approval.operation.replace(/_/g, ' ')
    const note: ChatEntry = {
      kind: 'note',
      id: localId('n'),
      text: approved ? `You approved ${what}.` : `You rejected ${what}.`,
      tone: approved ? 'ok' : 'warn',
    }
    runTurn(approved ? 'approve' : 'reject', [note], () =>
      approved ? agent.approve(notebookId, approval.id) : agent.reject(notebookId, approval.id),
    )
    return true
  }

  async function undo() {
    if (state.busy) return
    dispatch({ type: 'undoStarted' })
    try {
      const { message } = await agent.undo(notebookId)
      dispatch({ type: 'undone', note: { kind: 'note', id: localId('n'), text: message, tone: 'info' } })
      turnDone()
    } catch (err) {
      toast.error('Could not undo the last agent turn', err)
      dispatch({ type: 'undoFailed' })
    }
  }

  return { ...state, reload, send, decide, undo }
}
