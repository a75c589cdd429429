// The open tabs as a reducer: which notebooks are open here, which one is shown, and the
// notice about the open-notebook limit. Pure, so every change of a tab is in one place.

import type { NotebookStatus, NotebookSummary } from '../api/types'

export interface Tab {
  id: string
  name: string
  path: string
  status: NotebookStatus
  reason: string | null
  /** Bumped when a new marimo process serves the tab, to load a fresh editor. */
  generation: number
}

export interface OpenTabs {
  tabs: Tab[]
  activeId: string | null
  /** Why the last open was refused (the limit), until dismissed or the next open or close. */
  notice: string | null
  /** The user's limit of open notebooks (Me's `max_notebooks_per_user`). */
  limit: number
}

/** Why the server refused to open a notebook (its 409/429). */
export type Refusal = { kind: 'user-limit' } | { kind: 'server-busy'; message: string }

export type TabAction =
  | { type: 'add'; notebook: Pick<NotebookSummary, 'notebook_id' | 'name' | 'path'>; activate: boolean }
  | { type: 'running'; id: string }
  | { type: 'starting'; id: string }
  | { type: 'failed'; id: string; reason: string; notice?: string }
  | { type: 'refused'; id: string; name: string; refusal: Refusal; reactivate?: string | null }
  | { type: 'close'; id: string }
  | { type: 'forget'; id: string }
  | { type: 'reload'; id: string }
  | { type: 'select'; id: string | null }
  | { type: 'dismiss' }
  | { type: 'follow'; list: NotebookSummary[]; inflight: ReadonlySet<string> }

export function initialTabs(limit: number): OpenTabs {
  return { tabs: [], activeId: null, notice: null, limit }
}

const patch = (s: OpenTabs, id: string, fn: (t: Tab) => Partial<Tab>): OpenTabs => ({
  ...s,
  tabs: s.tabs.map((t) => (t.id === id ? { ...t, ...fn(t) } : t)),
})

export function tabsReducer(s: OpenTabs, a: TabAction): OpenTabs {
  switch (a.type) {
    case 'add': {
      const id = a.notebook.notebook_id
      const tab: Tab = { id, name: a.notebook.name, path: a.notebook.path, status: 'starting', reason: null, generation: 0 }
      const tabs = s.tabs.some((t) => t.id === id) ? s.tabs : [...s.tabs, tab]
      return { ...s, tabs, notice: null, activeId: a.activate ? id : s.activeId }
    }
    case 'running':
      return patch(s, a.id, (t) => ({ status: 'running', reason: null, generation: t.generation + 1 }))
    case 'starting':
      return patch(s, a.id, () => ({ status: 'starting', reason: null }))
    case 'failed': {
      const next = patch(s, a.id, () => ({ status: 'failed', reason: a.reason }))
      return a.notice ? { ...next, notice: a.notice } : next
    }
    case 'refused': {
      const tabs = s.tabs.filter((t) => t.id !== a.id)
      const activeId = a.reactivate !== undefined ? a.reactivate : s.activeId
      if (a.refusal.kind === 'server-busy')
        return {
          ...s,
          tabs,
          activeId,
          notice: `The server is running as many notebooks as it can. Try again in a moment. (${a.refusal.message})`,
        }
      const notice = `You have reached your limit of ${s.limit} open notebooks. Close a tab (or stop a running notebook) to open “${a.name}”.`
      return { ...s, tabs, activeId, notice }
    }
    case 'close': {
      // The tab to the right takes the place of a closed active one (or the last).
      const index = s.tabs.findIndex((t) => t.id === a.id)
      const tabs = s.tabs.filter((t) => t.id !== a.id)
      const activeId = s.activeId === a.id ? (tabs[Math.min(index, tabs.length - 1)]?.id ?? null) : s.activeId
      return { ...s, tabs, activeId, notice: null }
    }
    case 'forget': {
      // The notebook is gone (deleted): its tab goes, and the first tab is shown instead.
      if (!s.tabs.some((t) => t.id === a.id)) return s
      const tabs = s.tabs.filter((t) => t.id !== a.id)
      return { ...s, tabs, activeId: s.activeId === a.id ? (tabs[0]?.id ?? null) : s.activeId }
    }
    case 'reload':
      return patch(s, a.id, (t) => ({ generation: t.generation + 1 }))
    case 'select':
      return { ...s, activeId: a.id }
    case 'dismiss':
      return { ...s, notice: null }
    case 'follow': {
      const tabs = followServer(s.tabs, a.list, a.inflight)
      return tabs.every((t, i) => t === s.tabs[i]) ? s : { ...s, tabs }
    }
  }
}

/** Tabs follow the server's view (a crash, an idle stop, a restart elsewhere), except those
 * whose open or restart is still under way here. */
export function followServer(tabs: Tab[], list: NotebookSummary[], inflight: ReadonlySet<string>): Tab[] {
  return tabs.map((t) => {
    const nb = list.find((n) => n.notebook_id === t.id)
    if (!nb) return t
    let next: Tab = nb.name !== t.name ? { ...t, name: nb.name } : t
    if (inflight.has(t.id)) return next
    if (nb.status === 'failed' && t.status !== 'failed')
      next = { ...next, status: 'failed', reason: nb.reason ?? 'marimo stopped unexpectedly' }
    else if (nb.status === 'stopped' && t.status === 'running')
      next = { ...next, status: 'stopped', reason: nb.reason ?? 'The notebook was stopped (idle, or closed elsewhere).' }
    else if (nb.status === 'starting' && t.status === 'running') next = { ...next, status: 'starting', reason: null }
    else if (nb.status === 'running' && t.status !== 'running')
      next = { ...next, status: 'running', reason: null, generation: t.generation + 1 }
    return next
  })
}
