// A line diff of code, for the approval card and the activity panel: two texts compared
// with jsdiff.

import { diffLines } from 'diff'
import { useMemo } from 'react'

type DiffLine = { kind: 'same' | 'add' | 'del'; text: string }

/** A text's lines, without the last line's newline; none for null or ''. */
const linesOf = (text: string | null): string[] => (text ? text.replace(/\n$/, '').split('\n') : [])

function compare(before: string | null, after: string | null): DiffLine[] {
  const a = linesOf(before)
  const b = linesOf(after)
  // jsdiff is quick on texts that are alike but slow on large unlike ones; past this size
  // (far beyond a cell) the whole text shows as removed, then added.
  if (a.length * b.length > 250_000)
    return [...a.map((text) => ({ kind: 'del' as const, text })), ...b.map((text) => ({ kind: 'add' as const, text }))]
  // Both end in a newline, so that only the lines themselves differ.
  const asText = (lines: string[]) => (lines.length ? `${lines.join('\n')}\n` : '')
  return diffLines(asText(a), asText(b)).flatMap((change) =>
    linesOf(change.value).map((text) => ({ kind: change.added ? 'add' : change.removed ? 'del' : 'same', text })),
  )
}

export function DiffView({ label, before, after }: { label: string; before: string | null; after: string | null }) {
  const lines = useMemo(() => compare(before, after), [before, after])
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
