import type { ToolCallView, ToolStatus } from '../api/agent'
import { Icon } from '../components/Icon'

const LABEL: Record<ToolStatus, string> = {
  running: 'running',
  done: 'done',
  error: 'failed',
  awaiting_approval: 'needs approval',
  rejected: 'rejected',
}

function StatusMark({ status }: { status: ToolStatus }) {
  if (status === 'running') return <span className="spinner small" aria-hidden="true" />
  if (status === 'done') return <Icon name="check" size={13} />
  if (status === 'awaiting_approval') return <span className="chip-wait" aria-hidden="true" />
  return <Icon name={status === 'rejected' ? 'close' : 'alert'} size={13} />
}

/** A tool call as a chip: its name, status and a short result; details on click. */
export function ToolChip({ call }: { call: ToolCallView }) {
  const args = Object.keys(call.args).length ? JSON.stringify(call.args, null, 2) : null
  return (
    <li className={`chip chip-${call.status}`} aria-label={`${call.name}: ${LABEL[call.status]}`}>
      <details>
        <summary title={call.summary}>
          <StatusMark status={call.status} />
          <span className="chip-name">{call.name}</span>
          <span className="chip-status">{LABEL[call.status]}</span>
          {call.summary && <span className="chip-summary">{call.summary}</span>}
        </summary>
        <div className="chip-details">
          {args ? <pre>{args}</pre> : <p className="muted small">No arguments.</p>}
          {call.summary && <p className="small">{call.summary}</p>}
        </div>
      </details>
    </li>
  )
}
