// The agent beside one notebook: the conversation (streamed as it is written), tool-call
// chips, the approval card, undo, and the composer. One panel per open tab; hidden ones
// stay mounted so a turn keeps streaming while another tab is shown.

import { useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react'
import {
  agent,
  localId,
  type AgentInfo,
  type Approval,
  type ChatEntry,
  type Command,
  type LiveEvent,
  type ToolCall,
  type TurnReply,
} from '../api/agent'
import { ApiError, errorMessage } from '../api/client'
import { Icon } from '../components/Icon'
import { useToast } from '../components/Toasts'
import type { LiveHub, LiveState } from '../live/hub'
import { ApprovalCard } from './ApprovalCard'
import { Markdown } from './Markdown'
import { ToolChip } from './ToolChip'

type Busy = null | 'chat' | 'approve' | 'reject' | 'undo'
type Assistant = Extract<ChatEntry, { kind: 'assistant' }>

function mergeCalls(streamed: ToolCall[], final: ToolCall[]): ToolCall[] {
  if (final.length === 0) return streamed
  const used = new Set<ToolCall>()
  return final.map((f) => {
    const s =
      streamed.find((c) => !used.has(c) && c.id === f.id) ?? streamed.find((c) => !used.has(c) && c.name === f.name)
    if (!s) return f
    used.add(s)
    return {
      ...f,
      id: s.id,
      summary: f.summary ?? s.summary,
      status: s.status === 'error' ? 'error' : f.status,
    }
  })
}

export function ChatPanel({
  notebookId,
  notebookName,
  visible,
  running,
  hub,
  liveState,
  agentInfo,
  onTurnDone,
  onRestarted,
}: {
  notebookId: string
  notebookName: string
  visible: boolean
  running: boolean
  hub: LiveHub
  liveState: LiveState
  agentInfo: AgentInfo
  onTurnDone: () => void
  /** The agent restarted the notebook's marimo: its editor must load again. */
  onRestarted: () => void
}) {
  const toast = useToast()
  const [entries, setEntries] = useState<ChatEntry[]>([])
  const [approval, setApproval] = useState<Approval | null>(null)
  const [load, setLoad] = useState<'loading' | 'ready' | 'unavailable' | 'error'>('loading')
  const [loadError, setLoadError] = useState<string | null>(null)
  const [busy, setBusy] = useState<Busy>(null)
  const [draft, setDraft] = useState('')
  const [showHint, setShowHint] = useState(false)
  const streamId = useRef<string | null>(null)
  // Turns this panel ran itself: their late events must not trigger a reload.
  const ownTurns = useRef(new Set<string>())
  const quietTimer = useRef<number | undefined>(undefined)
  const logRef = useRef<HTMLDivElement>(null)
  const stick = useRef(true)
  const inputRef = useRef<HTMLTextAreaElement>(null)

  const loadHistory = useCallback(async () => {
    setLoad('loading')
    try {
      const h = await agent.history(notebookId)
      setEntries(h.entries)
      setApproval(h.approval)
      setLoad('ready')
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.detail === 'Not Found') setLoad('unavailable')
      else {
        setLoad('error')
        setLoadError(errorMessage(err))
      }
    }
  }, [notebookId])

  useEffect(() => {
    void loadHistory()
  }, [loadHistory])

  // A turn run elsewhere (another browser tab, another client): show it once it is done.
  const reloadQuietly = useCallback(() => {
    window.clearTimeout(quietTimer.current)
    quietTimer.current = window.setTimeout(async () => {
      if (streamId.current) return
      try {
        const h = await agent.history(notebookId)
        if (streamId.current) return
        setEntries(h.entries)
        setApproval(h.approval)
      } catch {
        /* the next event or a reload will catch up */
      }
    }, 300)
  }, [notebookId])
  useEffect(() => () => window.clearTimeout(quietTimer.current), [])

  const patchStream = useCallback((fn: (a: Assistant) => Assistant) => {
    const id = streamId.current
    if (!id) return
    setEntries((es) => es.map((e) => (e.id === id && e.kind === 'assistant' ? fn(e) : e)))
  }, [])

  // Live events of our own turn fill the assistant's entry as they happen.
  useEffect(
    () =>
      hub.subscribe(notebookId, (ev: LiveEvent) => {
        if (ev.type === 'note') {
          // The undo button adds its own note; others (a long run ended) are shown as they come.
          if (!ev.undo) setEntries((es) => [...es, { kind: 'note', id: localId('n'), text: ev.text, tone: ev.tone }])
          return
        }
        if (ev.type === 'lagged') {
          if (!streamId.current) reloadQuietly()
          return
        }
        if (!streamId.current) {
          const foreign = 'turnId' in ev && ev.turnId && !ownTurns.current.has(ev.turnId)
          if (foreign && (ev.type === 'turn_done' || ev.type === 'approval' || ev.type === 'decided')) reloadQuietly()
          return
        }
        if ('turnId' in ev && ev.turnId) ownTurns.current.add(ev.turnId)
        switch (ev.type) {
          case 'text':
            patchStream((a) => ({ ...a, text: a.text + ev.delta, turnId: a.turnId ?? ev.turnId }))
            break
          case 'tool_started':
            patchStream((a) =>
              a.toolCalls.some((c) => c.id === ev.call.id) ? a : { ...a, toolCalls: [...a.toolCalls, ev.call] },
            )
            break
          case 'tool_finished':
            patchStream((a) => {
              const calls = [...a.toolCalls]
              let i = ev.callId ? calls.findIndex((c) => c.id === ev.callId) : -1
              if (i < 0) i = calls.findLastIndex((c) => c.name === ev.name && c.status === 'running')
              const done = { status: ev.status, summary: ev.summary }
              if (i >= 0) calls[i] = { ...calls[i], ...done, summary: ev.summary ?? calls[i].summary }
              else calls.push({ id: ev.callId ?? localId('call'), name: ev.name, args: {}, ...done })
              return { ...a, toolCalls: calls }
            })
            break
          case 'approval':
            setApproval(ev.approval)
            patchStream((a) => ({
              ...a,
              toolCalls: a.toolCalls.map((c) =>
                c.name === ev.approval.operation && c.status === 'running' ? { ...c, status: 'awaiting_approval' } : c,
              ),
            }))
            break
          case 'error':
            patchStream((a) => ({ ...a, error: ev.message }))
            break
          default:
            break
        }
      }),
    [hub, notebookId, patchStream, reloadQuietly],
  )

  // Keep the newest message in view unless the person scrolled up to read.
  useLayoutEffect(() => {
    const el = logRef.current
    if (el && stick.current) el.scrollTop = el.scrollHeight
  }, [entries, approval, visible])

  const finishStream = useCallback(
    (reply: TurnReply | null, error?: string) => {
      const failed = error ?? (reply?.error ? reply.text || reply.error : undefined)
      patchStream((a) => ({
        ...a,
        streaming: false,
        text: failed && reply?.error ? '' : reply?.text || a.text,
        turnId: reply?.turnId ?? a.turnId,
        toolCalls: reply ? mergeCalls(a.toolCalls, reply.toolCalls) : a.toolCalls,
        error: failed ?? a.error,
      }))
      streamId.current = null
      if (reply) {
        if (reply.turnId) ownTurns.current.add(reply.turnId)
        setApproval(reply.approval)
        if (reply.toolCalls.some((c) => c.name === 'restart_kernel' && c.status === 'done')) onRestarted()
      }
      onTurnDone()
    },
    [onRestarted, onTurnDone, patchStream],
  )

  /** Run one request that makes the agent take a turn, streaming into a new entry. */
  const runTurn = useCallback(
    async (kind: Exclude<Busy, null | 'undo'>, before: ChatEntry[], call: () => Promise<TurnReply>) => {
      const id = localId('a')
      streamId.current = id
      stick.current = true
      setBusy(kind)
      setEntries((es) => [
        ...es,
        ...before,
        { kind: 'assistant', id, text: '', toolCalls: [], turnId: null, streaming: true },
      ])
      try {
        finishStream(await call())
      } catch (err) {
        finishStream(
          null,
          err instanceof ApiError && err.status === 404 && err.detail === 'Not Found'
            ? 'The agent is not available on this server.'
            : errorMessage(err),
        )
      } finally {
        setBusy(null)
      }
    },
    [finishStream],
  )

  const send = useCallback(() => {
    const text = draft.trim()
    if (!text || busy) return
    setDraft('')
    void runTurn('chat', [{ kind: 'user', id: localId('u'), text, at: new Date().toISOString() }], () =>
      agent.chat(notebookId, text),
    )
  }, [busy, draft, notebookId, runTurn])

  const decide = useCallback(
    (yes: boolean) => {
      if (!approval || busy) return
      const a = approval
      // The call that waited is now decided.
      setEntries((es) =>
        es.map((e) =>
          e.kind === 'assistant' && e.toolCalls.some((c) => c.status === 'awaiting_approval')
            ? {
                ...e,
                toolCalls: e.toolCalls.map((c) =>
                  c.status === 'awaiting_approval' && c.name === a.operation
                    ? { ...c, status: yes ? 'done' : 'rejected', summary: yes ? 'approved' : 'rejected by you' }
                    : c,
                ),
              }
            : e,
        ),
      )
      setApproval(null)
      const note: ChatEntry = {
        kind: 'note',
        id: localId('n'),
        text: yes ? `You approved ${a.operation.replace(/_/g, ' ')}.` : `You rejected ${a.operation.replace(/_/g, ' ')}.`,
        tone: yes ? 'ok' : 'warn',
      }
      void runTurn(yes ? 'approve' : 'reject', [note], () =>
        yes ? agent.approve(notebookId, a.id) : agent.reject(notebookId, a.id),
      )
    },
    [approval, busy, notebookId, runTurn],
  )

  const undo = useCallback(async () => {
    if (busy) return
    setBusy('undo')
    try {
      const message = await agent.undo(notebookId)
      setApproval(null)
      setEntries((es) => [...es, { kind: 'note', id: localId('n'), text: message, tone: 'info' }])
      onTurnDone()
    } catch (err) {
      toast.error('Could not undo the last agent turn', err)
    } finally {
      setBusy(null)
    }
  }, [busy, notebookId, onTurnDone, toast])

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      send()
    }
  }

  const hasTurns = entries.some((e) => e.kind === 'assistant')
  const commands = agentInfo.commands
  const isBuiltin = commands.length > 0

  return (
    <div className="chat" hidden={!visible} aria-label={`Chat about ${notebookName}`} role="region">
      <div className="chat-header">
        <div className="chat-title">
          <span className="truncate">{notebookName}</span>
        </div>
        <button
          type="button"
          className="button small"
          onClick={() => void undo()}
          disabled={!hasTurns || busy !== null}
          title="Put the notebook's cells back as they were before the agent's last turn"
        >
          <Icon name="undo" size={14} /> {busy === 'undo' ? 'Undoing…' : 'Undo last agent turn'}
        </button>
      </div>

      <div
        className="chat-log"
        role="log"
        aria-label="Conversation"
        aria-busy={busy === 'chat' || busy === 'approve' || busy === 'reject'}
        ref={logRef}
        onScroll={(e) => {
          const el = e.currentTarget
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40
        }}
      >
        {load === 'loading' && (
          <p className="muted small center" role="status">
            Loading the conversation…
          </p>
        )}
        {agentInfo.problem && (
          <p className="notice notice-error small" role="alert">
            The model cannot be used: {agentInfo.problem}
          </p>
        )}
        {load === 'unavailable' && (
          <p className="notice small">The agent is not available on this server yet; messages cannot be stored.</p>
        )}
        {load === 'error' && (
          <div className="notice notice-error small" role="alert">
            Could not load the conversation: {loadError}{' '}
            <button type="button" className="link-button" onClick={() => void loadHistory()}>
              Retry
            </button>
          </div>
        )}
        {load !== 'loading' && entries.length === 0 && (
          <div className="chat-welcome">
            <Icon name="sparkles" size={22} />
            <p>
              Ask the agent to add, edit, run or explain cells in <strong>{notebookName}</strong>. It asks before anything
              destructive.
            </p>
            {isBuiltin && commands.length > 0 && <CommandHint commands={commands} onPick={(c) => pick(c)} />}
          </div>
        )}
        {entries.map((e) => (
          <Entry key={e.id} entry={e} />
        ))}
        {approval && (
          <ApprovalCard
            notebookId={notebookId}
            approval={approval}
            busy={busy === 'approve' || busy === 'reject' ? busy : null}
            onApprove={() => decide(true)}
            onReject={() => decide(false)}
          />
        )}
      </div>

      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault()
          send()
        }}
      >
        {!running && <p className="composer-note small">The notebook is not running; the agent can only read its file.</p>}
        {liveState === 'offline' && (
          <p className="composer-note small" role="status">
            <Icon name="wifiOff" size={12} /> Offline: live updates paused, reconnecting…
          </p>
        )}
        <label htmlFor={`composer-${notebookId}`} className="sr-only">
          Message the agent
        </label>
        <textarea
          id={`composer-${notebookId}`}
          ref={inputRef}
          rows={3}
          value={draft}
          placeholder={approval ? 'Approve or reject the change above first…' : 'Ask the agent… (Enter sends, Shift+Enter adds a line)'}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
        />
        <div className="composer-bar">
          <span className="muted small">
            Model <strong>{agentInfo.model}</strong>
          </span>
          {isBuiltin && commands.length > 0 && entries.length > 0 && (
            <button
              type="button"
              className="link-button small"
              aria-expanded={showHint}
              onClick={() => setShowHint((s) => !s)}
            >
              What it understands
            </button>
          )}
          <div className="topbar-spacer" />
          <button type="submit" className="button primary small" disabled={!draft.trim() || busy !== null} aria-label="Send">
            {busy === 'chat' ? <span className="spinner small light" aria-hidden="true" /> : <Icon name="send" size={14} />}
            Send
          </button>
        </div>
        {showHint && entries.length > 0 && <CommandHint commands={commands} onPick={(c) => pick(c)} />}
      </form>
    </div>
  )

  function pick(command: Command) {
    // Fill the composer with the command, the cursor where the person types next.
    const text = command.text.replace(/```(?:python)?\s*(?:\.\.\.|…)?\s*```/, '```python\n\n```')
    setDraft(text)
    setShowHint(false)
    requestAnimationFrame(() => {
      const el = inputRef.current
      if (!el) return
      el.focus()
      const id = text.indexOf('<id>')
      const code = text.indexOf('\n\n```')
      if (id >= 0) el.setSelectionRange(id, id + 4)
      else if (code >= 0) el.setSelectionRange(code + 1, code + 1)
      else el.setSelectionRange(text.length, text.length)
    })
  }
}

/** "add a cell: ```python" is how people type it; markdown wants the fence on its own line. */
function fenceOnOwnLine(text: string): string {
  return text.replace(/([^\n])[ \t]*(```[\w-]*[ \t]*\n)/g, '$1\n$2').replace(/\n([^\n`]+)```[ \t]*$/g, '\n$1\n```')
}

function CommandHint({ commands, onPick }: { commands: Command[]; onPick: (c: Command) => void }) {
  const [all, setAll] = useState(commands.length <= 10)
  const shown = all ? commands : commands.slice(0, 8)
  return (
    <div className="hint" role="group" aria-label="What the builtin model understands">
      <p className="small muted">The builtin model understands (click one to start):</p>
      <ul>
        {shown.map((c) => (
          <li key={c.text}>
            <button type="button" className="hint-command" title={c.does} onClick={() => onPick(c)}>
              <code>{c.text}</code>
            </button>
          </li>
        ))}
        {!all && (
          <li>
            <button type="button" className="link-button small" onClick={() => setAll(true)}>
              {commands.length - shown.length} more…
            </button>
          </li>
        )}
      </ul>
    </div>
  )
}

function Entry({ entry }: { entry: ChatEntry }) {
  if (entry.kind === 'user')
    return (
      <article className="msg msg-user" aria-label="You">
        <div className="msg-body">
          <Markdown text={fenceOnOwnLine(entry.text)} />
        </div>
      </article>
    )
  if (entry.kind === 'note')
    return (
      <p className={`msg-note note-${entry.tone ?? 'info'}`} role="note">
        {entry.text}
      </p>
    )
  const empty = !entry.text && entry.toolCalls.length === 0
  return (
    <article className="msg msg-assistant" aria-label="Agent" aria-busy={entry.streaming ?? false}>
      <div className="msg-avatar" aria-hidden="true">
        <Icon name="hex" size={14} />
      </div>
      <div className="msg-body">
        {entry.toolCalls.length > 0 && (
          <ul className="chips" aria-label="Tool calls">
            {entry.toolCalls.map((c) => (
              <ToolChip key={c.id} call={c} />
            ))}
          </ul>
        )}
        {entry.text && <Markdown text={entry.text} />}
        {entry.streaming && (
          <span className="typing" role="status" aria-label="The agent is working">
            <i />
            <i />
            <i />
          </span>
        )}
        {!entry.streaming && empty && !entry.error && <p className="muted small">(no reply)</p>}
        {entry.error && (
          <p className="msg-error" role="alert">
            {entry.error}
          </p>
        )}
      </div>
    </article>
  )
}
