import type { DiffLine } from './diff'

export function DiffView({ lines, label }: { lines: DiffLine[]; label: string }) {
  const added = lines.filter((l) => l.kind === 'add').length
  const removed = lines.filter((l) => l.kind === 'del').length
  return (
    <figure className="diff" aria-label={label}>
      <figcaption className="diff-stats">
        <span className="diff-add-count">+{added}</span> <span className="diff-del-count">−{removed}</span>
      </figcaption>
      <pre>
        {lines.length === 0 ? (
          <span className="diff-empty">(empty)</span>
        ) : (
          lines.map((l, i) => (
            <div key={i} className={`diff-line diff-${l.kind}`}>
              <span className="diff-sign" aria-hidden="true">
                {l.kind === 'add' ? '+' : l.kind === 'del' ? '−' : ' '}
              </span>
              <span className="sr-only">{l.kind === 'add' ? 'added: ' : l.kind === 'del' ? 'removed: ' : ''}</span>
              <code>{l.text || ' '}</code>
            </div>
          ))
        )}
      </pre>
    </figure>
  )
}
