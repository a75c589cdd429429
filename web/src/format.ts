// Formatting of times and durations for people.

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

/** An ISO 8601 time of the API (always with its zone), or null. */
export function parseTime(iso: string | null | undefined): Date | null {
  if (!iso) return null
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? null : d
}

export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  const d = parseTime(iso)
  if (!d) return 'never'
  const secs = Math.round((d.getTime() - now) / 1000)
  const abs = Math.abs(secs)
  if (abs < 45) return 'just now'
  if (abs < 3600) return rtf.format(Math.round(secs / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(secs / 3600), 'hour')
  if (abs < 86400 * 7) return rtf.format(Math.round(secs / 86400), 'day')
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })
}

export function fullTime(iso: string | null | undefined): string {
  const d = parseTime(iso)
  return d ? d.toLocaleString() : ''
}

export function clockTime(iso: string | null | undefined): string {
  const d = parseTime(iso)
  return d ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }) : '—'
}

export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}
