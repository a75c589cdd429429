// A line diff (longest common subsequence) for the approval card and the activity panel.

export type DiffLine = { kind: 'same' | 'add' | 'del'; text: string }

export function diffLines(before: string | null, after: string | null): DiffLine[] {
  const a = before === null || before === '' ? [] : before.replace(/\n$/, '').split('\n')
  const b = after === null || after === '' ? [] : after.replace(/\n$/, '').split('\n')
  // Cells are small; quadratic is fine, but cap it so a huge cell cannot freeze the page.
  if (a.length * b.length > 250_000) {
    return [...a.map((text) => ({ kind: 'del' as const, text })), ...b.map((text) => ({ kind: 'add' as const, text }))]
  }
  const n = a.length
  const m = b.length
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
  const out: DiffLine[] = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ kind: 'same', text: a[i] })
      i++
      j++
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ kind: 'del', text: a[i++] })
    else out.push({ kind: 'add', text: b[j++] })
  }
  while (i < n) out.push({ kind: 'del', text: a[i++] })
  while (j < m) out.push({ kind: 'add', text: b[j++] })
  return out
}

/** A unified diff's lines, classified by their first character. */
export function parseUnified(diff: string): DiffLine[] {
  return diff
    .split('\n')
    .filter((l) => !l.startsWith('+++') && !l.startsWith('---') && !l.startsWith('@@') && l !== '\\ No newline at end of file')
    .map((l) =>
      l.startsWith('+')
        ? { kind: 'add' as const, text: l.slice(1) }
        : l.startsWith('-')
          ? { kind: 'del' as const, text: l.slice(1) }
          : { kind: 'same' as const, text: l.startsWith(' ') ? l.slice(1) : l },
    )
}
