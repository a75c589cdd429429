// What the agent wants to do that needs a yes: the cells affected and a diff of their code.

import type { ReactNode } from 'react'
import type { PendingApproval } from '../api/types'
import { Icon } from '../components/Icon'
import { DiffView } from './DiffView'

/** One cell's code before and after (null: the cell is new, or goes). */
function Change({ head, before, after, label }: { head: ReactNode; before: string | null; after: string | null; label: string }) {
  return (
    <div className="approval-cell">
      <div className="approval-cell-head">
        {head}
        {after === null && before !== null && <span className="tag tag-danger">removed</span>}
        {before === null && after !== null && <span className="tag tag-ok">added</span>}
      </div>
      <DiffView before={before} after={after} label={label} />
    </div>
  )
}

export function ApprovalCard({
  approval,
  busy,
  onApprove,
  onReject,
}: {
  approval: PendingApproval
  busy: 'approve' | 'reject' | null
  onApprove: () => void
  onReject: () => void
}) {
  const changes = approval.changes ?? []
  // Without per-cell changes, the notebook's code before and after as a whole.
  const before = approval.code_before ?? null
  const after = approval.code_after ?? null
  const whole = changes.length === 0 && (before !== null || after !== null)
  const title = approval.operation.replace(/_/g, ' ')

  return (
    <section className="approval" aria-labelledby={`approval-${approval.id}`} aria-describedby={`approval-desc-${approval.id}`}>
      <header>
        <Icon name="alert" />
        <h3 id={`approval-${approval.id}`}>Approval needed</h3>
        <code className="approval-op">{title}</code>
      </header>
      <p id={`approval-desc-${approval.id}`}>{approval.description}</p>
      {(changes.length > 0 || whole) && (
        <div className="approval-cells" aria-label="Cells affected">
          {changes.map((c, i) =>
            c.cell_id !== null ? (
              <Change
                key={c.cell_id}
                head={
                  <>
                    Cell <code>{c.cell_id}</code>
                  </>
                }
                before={c.before ?? null}
                after={c.after ?? null}
                label={`Changes to cell ${c.cell_id}`}
              />
            ) : (
              <Change key={`new-${i}`} head="New cell" before={c.before ?? null} after={c.after ?? null} label="Code of a new cell" />
            ),
          )}
          {whole && <Change head="All cells" before={before} after={after} label="Changes to the notebook" />}
        </div>
      )}
      {changes.length === 0 && !whole && Object.keys(approval.arguments).length > 0 && (
        <pre className="approval-args">{JSON.stringify(approval.arguments, null, 2)}</pre>
      )}
      <div className="row approval-actions">
        <button type="button" className="button primary" disabled={busy !== null} onClick={onApprove}>
          {busy === 'approve' ? 'Approving…' : 'Approve'}
        </button>
        <button type="button" className="button" disabled={busy !== null} onClick={onReject}>
          {busy === 'reject' ? 'Rejecting…' : 'Reject'}
        </button>
      </div>
    </section>
  )
}
