// One entry of the conversation: the person's message, the agent's reply with its tool
// calls, or a note.

import type { ChatEntry } from '../api/agent'
import { Icon } from '../components/Icon'
import { Markdown } from './Markdown'
import { ToolChip } from './ToolChip'

/** "add a cell: ```python" is how people type it; markdown wants the fence on its own line. */
function fenceOnOwnLine(text: string): string {
  return text.replace(/([^\n])[ \t]*(```[\w-]*[ \t]*\n)/g, '$1\n$2').replace(/\n([^\n`]+)```[ \t]*$/g, '\n$1\n```')
}

export function Entry({ entry }: { entry: ChatEntry }) {
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
