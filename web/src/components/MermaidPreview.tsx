// A live preview of a Mermaid chart. mermaid is large, so it is loaded on first use.

import { useEffect, useRef, useState } from 'react'

type MermaidApi = typeof import('mermaid').default
let loading: Promise<MermaidApi> | null = null

function loadMermaid(): Promise<MermaidApi> {
  loading ??= import('mermaid').then((m) => {
    m.default.initialize({
      startOnLoad: false,
      securityLevel: 'strict',
      theme: 'neutral',
      fontFamily: 'inherit',
      flowchart: { htmlLabels: false },
    })
    return m.default
  })
  return loading
}

let renderSeq = 0

export function MermaidPreview({ source }: { source: string }) {
  const [svg, setSvg] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [state, setState] = useState<'idle' | 'loading' | 'ready'>('idle')
  const latest = useRef(0)

  useEffect(() => {
    const text = source.trim()
    if (!text) {
      setSvg(null)
      setError(null)
      return
    }
    const ticket = ++latest.current
    const timer = window.setTimeout(async () => {
      setState((s) => (s === 'idle' ? 'loading' : s))
      try {
        const mermaid = await loadMermaid()
        setState('ready')
        await mermaid.parse(text)
        const { svg } = await mermaid.render(`mermaid-preview-${++renderSeq}`, text)
        if (ticket !== latest.current) return
        setSvg(svg)
        setError(null)
      } catch (err) {
        if (ticket !== latest.current) return
        const message = (err as { message?: string; str?: string }).str ?? (err as Error).message ?? String(err)
        setError(message.split('\n').slice(0, 4).join('\n'))
        // mermaid leaves its error diagram in the page; remove it.
        document.querySelectorAll('[id^="dmermaid-preview-"]').forEach((n) => n.remove())
      }
    }, 250)
    return () => window.clearTimeout(timer)
  }, [source])

  return (
    <figure className="mermaid-preview" aria-label="Chart preview" aria-busy={state === 'loading'}>
      {!source.trim() && <p className="muted">The chart appears here as you type.</p>}
      {source.trim() && state === 'loading' && !svg && <p className="muted" role="status">Loading the preview…</p>}
      {svg && <div className={`mermaid-svg${error ? ' stale' : ''}`} dangerouslySetInnerHTML={{ __html: svg }} />}
      {error && (
        <pre className="mermaid-error" role="alert">
          {error}
        </pre>
      )}
    </figure>
  )
}
