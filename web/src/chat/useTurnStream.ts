// The agent's turns in one notebook's chat: a message, an approval or a rejection starts a
// turn whose reply streams into a new assistant entry from the notebook's live events, and
// the reply settles it. Also undo, and catching up with turns run elsewhere.

import { useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useReducer, useRef } from 'react'
import { agent, localId, type ChatEntry, type LiveEvent, type TurnReply } from '../api/agent'
import { ApiError, errorMessage } from '../api/client'
import { queryKeys } from '../api/queryClient'
import { useToast } from '../components/Toasts'
import type { LiveHub } from '../live/hub'
import { conversationReducer, emptyConversation, type StreamEvent, type TurnKind } from './conversation'
import { useChatHistory } from './useChatHistory'

const STREAMED = new Set<LiveEvent['type']>(['text', 'tool_started', 'tool_finished', 'approval', 'error'])
const isStreamEvent = (ev: LiveEvent): ev is StreamEvent => STREAMED.has(ev.type)

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
        if (ev.type === 'note') {
          // The undo button adds its own note; others (a long run ended) are shown as they come.
          if (!ev.undo) dispatch({ type: 'note', note: { kind: 'note', id: localId('n'), text: ev.text, tone: ev.tone } })
          return
        }
        if (ev.type === 'lagged') {
          if (!streamId.current) reloadQuietly()
          return
        }
        const id = streamId.current
        if (!id) {
          const foreign = 'turnId' in ev && ev.turnId && !ownTurns.current.has(ev.turnId)
          if (foreign && (ev.type === 'turn_done' || ev.type === 'approval' || ev.type === 'decided')) reloadQuietly()
          return
        }
        if ('turnId' in ev && ev.turnId) ownTurns.current.add(ev.turnId)
        if (isStreamEvent(ev)) dispatch({ type: 'streamed', id, event: ev, newCallId: localId('call') })
      }),
    [hub, notebookId, reloadQuietly],
  )

  function finish(id: string, reply: TurnReply | null, error?: string) {
    dispatch({ type: 'turnFinished', id, reply, error })
    streamId.current = null
    if (reply) {
      if (reply.turnId) ownTurns.current.add(reply.turnId)
      if (reply.toolCalls.some((c) => c.name === 'restart_kernel' && c.status === 'done')) restarted.current()
    }
    turnDone()
  }

  /** Run one request that makes the agent take a turn, streaming into a new entry. */
  function runTurn(kind: TurnKind, before: ChatEntry[], call: () => Promise<TurnReply>) {
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
      const message = await agent.undo(notebookId)
      dispatch({ type: 'undone', note: { kind: 'note', id: localId('n'), text: message, tone: 'info' } })
      turnDone()
    } catch (err) {
      toast.error('Could not undo the last agent turn', err)
      dispatch({ type: 'undoFailed' })
    }
  }

  return { ...state, reload, send, decide, undo }
}
