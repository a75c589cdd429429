// What the agent wants to do that needs a yes: the cells affected and a diff of their code.

import { useQuery } from '@tanstack/react-query'
import type { Approval, CellChange } from '../api/agent'
import { notebooks } from '../api/hexa'
import { queryKeys } from '../api/queryClient'
import type { NotebookState } from '../api/types'
import { Icon } from '../components/Icon'
import { DiffView } from './DiffView'

const REMOVES = /delete|remove|clear|replace/i

/** The cells an approval names, from the notebook's state: their code now, and after. */
function lookedUp(approval: Approval, state: NotebookState): { changes: CellChange[]; partial: boolean } {
  const removes = REMOVES.test(approval.operation)
  const code = typeof approval.args.code === 'string' ? approval.args.code : null
  return {
    partial: state.cells.some((c) => approval.cellIds.includes(c.cell_id) && c.line_count > c.preview.split('\n').length),
    changes: approval.cellIds.map((id) => {
      const cell = state.cells.find((c) => c.cell_id === id)
      return { cellId: id, before: cell ? cell.preview : null, after: removes ? null : code }
    }),
  }
}

export function ApprovalCard({
  notebookId,
  approval,
  busy,
  onApprove,
  onReject,
}: {
  notebookId: string
  approval: Approval
  busy: 'approve' | 'reject' | null
  onApprove: () => void
  onReject: () => void
}) {
  const needLookup = approval.changes.length === 0 && !approval.diff && approval.cellIds.length > 0
  // No diff came with the approval: show the current code of the cells it names.
  const lookup = useQuery({
    queryKey: queryKeys.cellsOfApproval(notebookId, approval.id),
    queryFn: () => notebooks.state(notebookId),
    enabled: needLookup,
  })
  const found = lookup.data ? lookedUp(approval, lookup.data) : null
  const looked = lookup.isError ? [] : (found?.changes ?? null)
  const partial = found?.partial ?? false

  const changes = approval.changes.length ? approval.changes : (looked ?? [])
  const title = approval.operation.replace(/_/g, ' ')

  return (
    <section className="approval" aria-labelledby={`approval-${approval.id}`} aria-describedby={`approval-desc-${approval.id}`}>
      <header>
        <Icon name="alert" />
        <h3 id={`approval-${approval.id}`}>Approval needed</h3>
        <code className="approval-op">{title}</code>
      </header>
      <p id={`approval-desc-${approval.id}`}>{approval.description}</p>
      {approval.diff && <DiffView patch={approval.diff} label="Changes" />}
      {changes.length > 0 && (
        <div className="approval-cells" aria-label="Cells affected">
          {changes.map((c) => (
            <div key={c.cellId} className="approval-cell">
              <div className="approval-cell-head">
                {c.cellId ? (
                  <>
                    Cell <code>{c.cellId}</code>
                  </>
                ) : (
                  'All cells'
                )}
                {c.after === null && c.before !== null && <span className="tag tag-danger">removed</span>}
                {c.before === null && c.after !== null && <span className="tag tag-ok">added</span>}
              </div>
              <DiffView
                before={c.before}
                after={c.after}
                label={c.cellId ? `Changes to cell ${c.cellId}` : 'Changes to the notebook'}
              />
            </div>
          ))}
          {partial && <p className="muted small">Showing the first lines of each cell.</p>}
        </div>
      )}
      {needLookup && looked === null && (
        <p className="muted small" role="status">
          Looking up the cells…
        </p>
      )}
      {!approval.diff && changes.length === 0 && !needLookup && Object.keys(approval.args).length > 0 && (
        <pre className="approval-args">{JSON.stringify(approval.args, null, 2)}</pre>
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
