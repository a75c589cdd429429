import { ApiError, errorMessage } from '../api/client'
import type { Diagnostic } from '../api/types'

/** Formatting remarks matter only when nothing worse is wrong. */
function relevant(all: Diagnostic[]): Diagnostic[] {
  const serious = all.filter((d) => d.severity !== 'formatting')
  return serious.length ? serious : all
}

/** An API error as a readable block, with marimo's diagnostics when there are some. */
export function ErrorBlock({ error }: { error: unknown }) {
  if (!error) return null
  const message = errorMessage(error)
  const diagnostics = error instanceof ApiError ? relevant(error.diagnostics) : []
  // The first diagnostic usually is the message itself; list them only when they add to it.
  const extra = diagnostics.filter((d) => d.line != null || d.text || diagnostics.length > 1 || !message.includes(d.message))
  return (
    <div className="form-error block" role="alert">
      <p>{message}</p>
      {extra.length > 0 && (
        <ul className="diagnostics" aria-label="Diagnostics">
          {extra.map((d, i) => {
            const cell = d.cell_id ?? (d.cell_index != null ? `#${d.cell_index + 1}` : null)
            return (
              <li key={i}>
                {d.line != null && <span className="diag-where">line {d.line}</span>}
                {cell !== null && <span className="diag-where">cell {cell}</span>}
                {d.code && <code className="diag-code">{d.code}</code>}
                <span>{d.message}</span>
                {d.text && <pre className="diag-text">{d.text}</pre>}
              </li>
            )
          })}
        </ul>
      )}
    </div>
  )
}
