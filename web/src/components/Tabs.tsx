// Open notebooks as tabs. Each running tab is an iframe of marimo's editor at /nb/<id>/;
// switching tabs only hides the others, so every editor keeps its state.

import { useRef, type KeyboardEvent, type ReactNode } from 'react'
import type { LiveState } from '../live/hub'
import type { Tab } from '../notebooks/openTabs'
import { Icon } from './Icon'
import { StatusDot } from './NotebookRail'

const STATUS_TEXT: Record<Tab['status'], string> = {
  starting: 'starting',
  running: 'running',
  failed: 'failed',
  stopped: 'stopped',
}

export function TabStrip({
  tabs,
  activeId,
  live,
  onSelect,
  onClose,
}: {
  tabs: Tab[]
  activeId: string | null
  live: Record<string, LiveState>
  onSelect: (id: string) => void
  onClose: (id: string) => void
}) {
  const list = useRef<HTMLDivElement>(null)
  if (tabs.length === 0) return null

  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  const onKeyDown = (e: KeyboardEvent) => {
    const i = tabs.findIndex((t) => t.id === activeId)
    let next = -1
    if (e.key === 'ArrowRight') next = (i + 1) % tabs.length
    else if (e.key === 'ArrowLeft') next = (i - 1 + tabs.length) % tabs.length
    else if (e.key === 'Home') next = 0
    else if (e.key === 'End') next = tabs.length - 1
    if (next < 0) return
    e.preventDefault()
    onSelect(tabs[next].id)
    list.current?.querySelectorAll<HTMLButtonElement>('[role="tab"]')[next]?.focus()
  }

  return (
    <div className="tabstrip" role="tablist" aria-label="Open notebooks" ref={list} onKeyDown={onKeyDown}>
      {tabs.map((t) => {
        const selected = t.id === activeId
        const offline = live[t.id] === 'offline'
        return (
          <div key={t.id} className={`tab${selected ? ' selected' : ''}`}>
            <button
              type="button"
              role="tab"
              id={`tab-${t.id}`}
              aria-selected={selected}
              aria-controls={`panel-${t.id}`}
              tabIndex={selected ? 0 : -1}
              title={`${t.name} — ${STATUS_TEXT[t.status]}${offline ? ', offline' : ''}`}
              onClick={() => onSelect(t.id)}
              onAuxClick={(e) => {
                if (e.button === 1) onClose(t.id)
              }}
            >
              {t.status === 'starting' ? (
                <span className="spinner small" aria-hidden="true" />
              ) : (
                <StatusDot status={t.status} />
              )}
              <span className="truncate">{t.name}</span>
              {offline && t.status === 'running' && <Icon name="wifiOff" size={12} className="tab-offline" />}
            </button>
            <button type="button" className="tab-close" aria-label={`Close ${t.name}`} onClick={() => onClose(t.id)}>
              <Icon name="close" size={12} />
            </button>
          </div>
        )
      })}
    </div>
  )
}

export function NotebookPanels({
  tabs,
  activeId,
  onRestart,
  onClose,
  empty,
}: {
  tabs: Tab[]
  activeId: string | null
  onRestart: (id: string) => void
  onClose: (id: string) => void
  empty: ReactNode
}) {
  return (
    <div className="panels">
      {tabs.length === 0 && empty}
      {tabs.map((t) => {
        const selected = t.id === activeId
        return (
          <section
            key={t.id}
            id={`panel-${t.id}`}
            role="tabpanel"
            aria-labelledby={`tab-${t.id}`}
            className={`panel${selected ? ' active' : ''}`}
            aria-hidden={!selected}
          >
            {t.status === 'running' && (
              <iframe
                key={t.generation}
                className="notebook-frame"
                title={`Notebook ${t.name}`}
                src={`/nb/${encodeURIComponent(t.id)}/`}
                allow="clipboard-read; clipboard-write; fullscreen"
              />
            )}
            {t.status === 'starting' && (
              <div className="panel-state" role="status">
                <span className="spinner" aria-hidden="true" />
                <p>
                  Starting <strong>{t.name}</strong>…
                </p>
                <p className="muted small">marimo is starting its kernel; this takes a few seconds.</p>
              </div>
            )}
            {(t.status === 'failed' || t.status === 'stopped') && (
              <div className="panel-state" role={t.status === 'failed' ? 'alert' : 'status'}>
                <Icon name={t.status === 'failed' ? 'alert' : 'notebook'} size={28} />
                <p>
                  <strong>{t.name}</strong> {t.status === 'failed' ? 'could not run.' : 'is stopped.'}
                </p>
                {t.reason && <p className="reason">{t.reason}</p>}
                <div className="row">
                  <button type="button" className="button primary" onClick={() => onRestart(t.id)}>
                    <Icon name="restart" /> {t.status === 'failed' ? 'Restart' : 'Start again'}
                  </button>
                  <button type="button" className="button" onClick={() => onClose(t.id)}>
                    Close tab
                  </button>
                </div>
              </div>
            )}
          </section>
        )
      })}
    </div>
  )
}
