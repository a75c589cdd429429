import { ApiError, errorMessage } from '../api/client'

/** An API error as a readable block, with marimo's diagnostics when there are some. */
export function ErrorBlock({ error }: { error: unknown }) {
  if (!error) return null
  const diagnostics = error instanceof ApiError ? error.diagnostics : []
  return (
    <div className="form-error block" role="alert">
      <p>{errorMessage(error)}</p>
      {diagnostics.length > 0 && (
        <ul className="diagnostics" aria-label="Diagnostics">
          {diagnostics.map((d, i) => (
            <li key={i}>
              {d.line != null && <span className="diag-where">line {d.line}</span>}
              {d.cell != null && <span className="diag-where">cell {String(d.cell)}</span>}
              {d.code && <code className="diag-code">{d.code}</code>}
              <span>{d.message}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
