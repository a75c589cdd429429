// The agent beside one notebook: the conversation (streamed as it is written), tool-call
// chips, the approval card, undo, and the composer. One panel per open tab; hidden ones
// stay mounted so a turn keeps streaming while another tab is shown.

import type { AgentInfo } from '../api/types'
import { Icon } from '../components/Icon'
import type { LiveHub, LiveState } from '../live/hub'
import { ApprovalCard } from './ApprovalCard'
import { CommandHint } from './CommandHint'
import { Entry } from './Entry'
import { useComposer } from './useComposer'
import { useStickToBottom } from './useStickToBottom'
import { useTurnStream } from './useTurnStream'

export function ChatPanel({
  notebookId,
  notebookName,
  visible,
  running,
  hub,
  liveState,
  agentInfo,
  onRestarted,
}: {
  notebookId: string
  notebookName: string
  visible: boolean
  running: boolean
  hub: LiveHub
  liveState: LiveState
  agentInfo: AgentInfo
  /** The agent restarted the notebook's marimo: its editor must load again. */
  onRestarted: () => void
}) {
  const turn = useTurnStream({ notebookId, hub, onRestarted })
  const { entries, approval, busy, load } = turn
  const log = useStickToBottom<HTMLDivElement>([entries, approval, visible])
  // A turn the person starts brings the log back to its newest message.
  const started = (ok: boolean) => {
    if (ok) log.follow()
    return ok
  }
  const composer = useComposer((text) => started(turn.send(text)))

  const hasTurns = entries.some((e) => e.kind === 'assistant')
  const commands = agentInfo.commands ?? []
  const isBuiltin = agentInfo.builtin

  return (
    <div className="chat" hidden={!visible} aria-label={`Chat about ${notebookName}`} role="region">
      <div className="chat-header">
        <div className="chat-title">
          <span className="truncate">{notebookName}</span>
        </div>
        <button
          type="button"
          className="button small"
          onClick={() => void turn.undo()}
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
        ref={log.ref}
        onScroll={log.onScroll}
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
            Could not load the conversation: {turn.loadError}{' '}
            <button type="button" className="link-button" onClick={() => void turn.reload()}>
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
            {isBuiltin && commands.length > 0 && <CommandHint commands={commands} onPick={composer.pick} />}
          </div>
        )}
        {entries.map((e) => (
          <Entry key={e.id} entry={e} />
        ))}
        {approval && (
          <ApprovalCard
            approval={approval}
            busy={busy === 'approve' || busy === 'reject' ? busy : null}
            onApprove={() => started(turn.decide(true))}
            onReject={() => started(turn.decide(false))}
          />
        )}
      </div>

      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault()
          composer.submit()
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
          ref={composer.inputRef}
          rows={3}
          value={composer.draft}
          placeholder={approval ? 'Approve or reject the change above first…' : 'Ask the agent… (Enter sends, Shift+Enter adds a line)'}
          onChange={(e) => composer.setDraft(e.target.value)}
          onKeyDown={composer.onKeyDown}
        />
        <div className="composer-bar">
          <span className="muted small">
            Model <strong>{agentInfo.model}</strong>
          </span>
          {isBuiltin && commands.length > 0 && entries.length > 0 && (
            <button
              type="button"
              className="link-button small"
              aria-expanded={composer.showHint}
              onClick={composer.toggleHint}
            >
              What it understands
            </button>
          )}
          <div className="topbar-spacer" />
          <button type="submit" className="button primary small" disabled={!composer.draft.trim() || busy !== null} aria-label="Send">
            {busy === 'chat' ? <span className="spinner small light" aria-hidden="true" /> : <Icon name="send" size={14} />}
            Send
          </button>
        </div>
        {composer.showHint && entries.length > 0 && <CommandHint commands={commands} onPick={composer.pick} />}
      </form>
    </div>
  )
}
