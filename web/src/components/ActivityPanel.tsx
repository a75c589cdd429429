// The audit log of one notebook: who asked, which tool ran with what, the decision and
// the outcome, how long it took.

import { Fragment, useState } from 'react'
import { ApiError, errorMessage } from '../api/client'
import { useAudit } from '../api/queries'
import type { AuditLine } from '../api/types'
import { DiffView } from '../chat/DiffView'
import { clockTime, duration, fullTime } from '../format'
import { Icon } from './Icon'

/** FastAPI's bare 404: this server has no audit route. */
const isUnavailable = (err: unknown) => err instanceof ApiError && err.status === 404 && err.detail === 'Not Found'

export function ActivityPanel({ notebookId, notebookName }: { notebookId: string; notebookName: string }) {
  const audit = useAudit(notebookId)
  const [expanded, setExpanded] = useState<number | null>(null)
  const unavailable = isUnavailable(audit.error)
  const error = audit.error && !unavailable ? errorMessage(audit.error) : null
  const entries = audit.data ?? null

  // Newest first, as the server sends them.
  const rows = entries ?? []

  return (
    <div className="activity">
      <div className="chat-header">
        <div className="chat-title">
          <span className="truncate">Activity · {notebookName}</span>
        </div>
        <button type="button" className="button small" onClick={() => void audit.refetch()} disabled={audit.isFetching}>
          <Icon name="refresh" size={14} /> Refresh
        </button>
      </div>
      <div className="activity-body">
        {unavailable && <p className="notice small">The audit log is not available on this server yet.</p>}
        {error && (
          <p className="notice notice-error small" role="alert">
            Could not load the activity: {error}
          </p>
        )}
        {entries && entries.length === 0 && <p className="muted small center">Nothing has happened here yet.</p>}
        {rows.length > 0 && (
          <table className="audit" aria-label="Audit log">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Tool</th>
                <th scope="col">Decision</th>
                <th scope="col">Outcome</th>
                <th scope="col" className="num">
                  Took
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => {
                const open = expanded === e.id
                const args = argumentsText(e.arguments)
                return (
                  <Fragment key={e.id}>
                    <tr className={open ? 'open' : undefined}>
                      <td title={fullTime(e.at)}>{clockTime(e.at)}</td>
                      <td>
                        <button
                          type="button"
                          className="link-button mono"
                          aria-expanded={open}
                          onClick={() => setExpanded(open ? null : e.id)}
                        >
                          {e.tool_name}
                        </button>
                      </td>
                      <td>{e.decision ? <span className={`tag tag-${decisionTone(e.decision)}`}>{e.decision}</span> : '—'}</td>
                      <td className="truncate-cell" title={e.outcome}>
                        {e.outcome || '—'}
                      </td>
                      <td className="num">{duration(e.duration_ms)}</td>
                    </tr>
                    {open && (
                      <tr className="audit-detail">
                        <td colSpan={5}>
                          <dl>
                            {e.user && (
                              <>
                                <dt>Who</dt>
                                <dd>{e.user}</dd>
                              </>
                            )}
                            <dt>When</dt>
                            <dd>{fullTime(e.at) || '—'}</dd>
                            {e.prompt && (
                              <>
                                <dt>Prompt</dt>
                                <dd className="pre">{e.prompt}</dd>
                              </>
                            )}
                          </dl>
                          {args && <pre>{args}</pre>}
                          {(e.code_before !== null || e.code_after !== null) && (
                            <DiffView before={e.code_before} after={e.code_after} label={`Code changed by ${e.tool_name}`} />
                          )}
                        </td>
                      </tr>
                    )}
                  </Fragment>
                )
              })}
            </tbody>
          </table>
        )}
      </div>
    </div>
  )
}

type Decision = NonNullable<AuditLine['decision']>

const DECISION_TONE: Record<Decision, string> = { approved: 'ok', rejected: 'danger', expired: 'warn', auto: 'neutral' }
const decisionTone = (d: Decision) => DECISION_TONE[d]

/** The call's arguments as stored: JSON (shown indented), or the text that was not JSON. */
function argumentsText(args: AuditLine['arguments']): string | null {
  if (typeof args === 'string') return args || null
  if (args === null || args === undefined) return null
  if (typeof args === 'object' && Object.keys(args).length === 0) return null
  return JSON.stringify(args, null, 2)
}
