// The notebook browser: the user's notebooks with status and last opened; open, create,
// import, generate, rename, delete.

import { useEffect, useRef, useState } from 'react'
import type { NotebookSummary } from '../api/types'
import { fullTime, parseTime, relativeTime } from '../format'
import { Icon } from './Icon'

const STATUS_LABEL: Record<string, string> = {
  running: 'Running',
  starting: 'Starting',
  failed: 'Failed',
  stopped: 'Stopped',
}

export function StatusDot({ status }: { status: string }) {
  return <span className={`status-dot status-${status}`} aria-hidden="true" />
}

function sortKey(nb: NotebookSummary): number {
  return (parseTime(nb.last_opened_at) ?? parseTime(nb.created_at))?.getTime() ?? 0
}

export function NotebookRail({
  open,
  notebooks,
  error,
  openIds,
  activeId,
  onOpen,
  onNew,
  onImport,
  onGenerate,
  onRename,
  onDelete,
  onStop,
  onRetry,
}: {
  open: boolean
  notebooks: NotebookSummary[] | null
  error: string | null
  openIds: Set<string>
  activeId: string | null
  onOpen: (nb: NotebookSummary) => void
  onNew: () => void
  onImport: () => void
  onGenerate: () => void
  onRename: (nb: NotebookSummary, name: string) => Promise<boolean>
  onDelete: (nb: NotebookSummary) => void
  onStop: (nb: NotebookSummary) => void
  onRetry: () => void
}) {
  const [filter, setFilter] = useState('')
  const [renaming, setRenaming] = useState<string | null>(null)
  const [, setNow] = useState(0)
  useEffect(() => {
    const t = window.setInterval(() => setNow((n) => n + 1), 30_000)
    return () => window.clearInterval(t)
  }, [])

  const q = filter.trim().toLowerCase()
  const shown = (notebooks ?? [])
    .filter((nb) => !q || nb.name.toLowerCase().includes(q) || nb.path.toLowerCase().includes(q))
    .sort((a, b) => sortKey(b) - sortKey(a))

  return (
    <nav id="notebook-rail" className="rail" aria-label="Notebook browser" hidden={!open}>
      <div className="rail-header">
        <h2>Notebooks</h2>
        {notebooks && <span className="count">{notebooks.length}</span>}
      </div>
      <div className="rail-actions">
        <button type="button" className="button primary" onClick={onNew}>
          <Icon name="plus" /> New notebook
        </button>
        <button type="button" className="button" onClick={onImport} title="Import a .py or .ipynb file">
          <Icon name="upload" /> Import
        </button>
        <button type="button" className="button" onClick={onGenerate} title="Generate from a prompt or a Mermaid diagram">
          <Icon name="sparkles" /> Generate
        </button>
      </div>
      <label className="search">
        <Icon name="search" />
        <span className="sr-only">Filter notebooks</span>
        <input type="search" placeholder="Filter" value={filter} onChange={(e) => setFilter(e.target.value)} />
      </label>
      {error && (
        <div className="rail-error" role="alert">
          <span>Could not load notebooks: {error}</span>
          <button type="button" className="link-button" onClick={onRetry}>
            Retry
          </button>
        </div>
      )}
      {notebooks === null && !error && <div className="rail-loading muted" role="status">Loading notebooks…</div>}
      {notebooks && notebooks.length === 0 && (
        <div className="rail-empty muted">No notebooks yet. Create one, import a file, or generate one.</div>
      )}
      {notebooks && notebooks.length > 0 && shown.length === 0 && (
        <div className="rail-empty muted">No notebook matches “{filter}”.</div>
      )}
      <ul className="nb-list" aria-label="Notebooks">
        {shown.map((nb) => (
          <li
            key={nb.notebook_id}
            className={`nb-item${openIds.has(nb.notebook_id) ? ' is-open' : ''}${activeId === nb.notebook_id ? ' is-active' : ''}`}
          >
            {renaming === nb.notebook_id ? (
              <RenameField
                notebook={nb}
                onDone={async (name) => {
                  if (name && name !== nb.name) await onRename(nb, name)
                  setRenaming(null)
                }}
              />
            ) : (
              <>
                <button
                  type="button"
                  className="nb-open"
                  onClick={() => onOpen(nb)}
                  aria-label={nb.name}
                  aria-describedby={`nb-meta-${nb.notebook_id}`}
                  aria-current={activeId === nb.notebook_id ? 'page' : undefined}
                >
                  <span className="nb-name">
                    <StatusDot status={nb.status} />
                    <span className="truncate">{nb.name}</span>
                  </span>
                  <span className="nb-meta" id={`nb-meta-${nb.notebook_id}`}>
                    <span className={`nb-status status-text-${nb.status}`}>{STATUS_LABEL[nb.status] ?? nb.status}</span>
                    <span aria-hidden="true"> · </span>
                    <span title={nb.last_opened_at ? `Last opened ${fullTime(nb.last_opened_at)}` : undefined}>
                      {nb.last_opened_at ? `opened ${relativeTime(nb.last_opened_at)}` : 'never opened'}
                    </span>
                  </span>
                  {nb.status === 'failed' && nb.reason && (
                    <span className="nb-reason truncate" title={nb.reason}>
                      {nb.reason}
                    </span>
                  )}
                </button>
                <div className="nb-actions">
                  {(nb.status === 'running' || nb.status === 'starting') && (
                    <button
                      type="button"
                      className="icon-button"
                      aria-label={`Stop ${nb.name}`}
                      title="Stop (closes its tab; the file stays)"
                      onClick={() => onStop(nb)}
                    >
                      <Icon name="stop" size={14} />
                    </button>
                  )}
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={`Rename ${nb.name}`}
                    title="Rename"
                    onClick={() => setRenaming(nb.notebook_id)}
                  >
                    <Icon name="pencil" size={14} />
                  </button>
                  <button
                    type="button"
                    className="icon-button danger"
                    aria-label={`Delete ${nb.name}`}
                    title="Delete"
                    onClick={() => onDelete(nb)}
                  >
                    <Icon name="trash" size={14} />
                  </button>
                </div>
              </>
            )}
          </li>
        ))}
      </ul>
    </nav>
  )
}

function RenameField({ notebook, onDone }: { notebook: NotebookSummary; onDone: (name: string | null) => void }) {
  const [value, setValue] = useState(notebook.name)
  const ref = useRef<HTMLInputElement>(null)
  const done = useRef(false)
  useEffect(() => {
    ref.current?.focus()
    ref.current?.select()
  }, [])
  const finish = (name: string | null) => {
    if (done.current) return
    done.current = true
    onDone(name)
  }
  return (
    <form
      className="nb-rename"
      onSubmit={(e) => {
        e.preventDefault()
        finish(value.trim() || null)
      }}
    >
      <label className="sr-only" htmlFor={`rename-${notebook.notebook_id}`}>
        New name for {notebook.name}
      </label>
      <input
        id={`rename-${notebook.notebook_id}`}
        ref={ref}
        value={value}
        maxLength={120}
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault()
            finish(null)
          }
        }}
        onBlur={() => finish(value.trim() || null)}
      />
    </form>
  )
}
