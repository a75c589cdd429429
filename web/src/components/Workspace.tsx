// The main screen: notebooks on the left, open notebooks in tabs, the agent on the right.

import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import { agent, type AgentInfo } from '../api/agent'
import { ApiError } from '../api/client'
import { notebooks as api } from '../api/hexa'
import type { CreatedNotebook, Me, Notebook } from '../api/types'
import { ChatPanel } from '../chat/ChatPanel'
import { LiveHub, type LiveState } from '../live/hub'
import { ActivityPanel } from './ActivityPanel'
import { GenerateDialog } from './GenerateDialog'
import { Icon } from './Icon'
import { ImportDialog } from './ImportDialog'
import { ConfirmDialog } from './Modal'
import { NewNotebookDialog } from './NewNotebookDialog'
import { NotebookRail } from './NotebookRail'
import { NotebookPanels, TabStrip, type Tab } from './Tabs'
import { useToast } from './Toasts'

type DialogState =
  | null
  | { kind: 'new' }
  | { kind: 'import' }
  | { kind: 'generate' }
  | { kind: 'delete'; notebook: Notebook }

const POLL_MS = 5000

function limitFrom(err: ApiError): number | null {
  const m = /max_notebooks_per_user=(\d+)/.exec(err.message)
  return m ? Number(m[1]) : null
}

const LIVE_LABEL: Record<LiveState, string> = { online: 'Live', offline: 'Offline', connecting: 'Connecting' }

function LiveIndicator({ state }: { state: LiveState }) {
  const label = LIVE_LABEL[state]
  return (
    <span
      className={`live-indicator live-${state}`}
      role="status"
      aria-label={`Live updates: ${label}`}
      title={state === 'offline' ? 'The live connection dropped; reconnecting…' : state === 'online' ? 'Live updates connected' : 'Connecting…'}
    >
      {state === 'offline' ? <Icon name="wifiOff" size={14} /> : <span className="dot" aria-hidden="true" />}
      {label}
    </span>
  )
}

export function Workspace({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const toast = useToast()
  const [notebooks, setNotebooks] = useState<Notebook[] | null>(null)
  const [listError, setListError] = useState<string | null>(null)
  const [tabs, setTabs] = useState<Tab[]>([])
  const [activeId, setActiveId] = useState<string | null>(null)
  const [limit, setLimit] = useState<number | null>(me.max_notebooks_per_user ?? null)
  const [limitNotice, setLimitNotice] = useState<string | null>(null)
  const [dialog, setDialog] = useState<DialogState>(null)
  const [railOpen, setRailOpen] = useState(true)
  const [side, setSide] = useState<'chat' | 'activity'>('chat')
  const [agentInfo, setAgentInfo] = useState<AgentInfo>({ model: me.model, commands: [] })
  const [auditTick, setAuditTick] = useState(0)

  const tabsRef = useRef(tabs)
  tabsRef.current = tabs
  const activeIdRef = useRef(activeId)
  activeIdRef.current = activeId
  const inflight = useRef(new Set<string>())
  const storageKey = `hexa:tabs:${me.name}`

  // One WebSocket per open notebook.
  const hub = useMemo(() => new LiveHub(), [])
  useEffect(() => () => hub.dispose(), [hub])
  const liveStates = useSyncExternalStore(hub.onState, hub.states)
  const tabIds = tabs.map((t) => t.id).join('\n')
  useEffect(() => {
    hub.sync(tabIds ? tabIds.split('\n') : [])
  }, [hub, tabIds])
  useEffect(() => {
    // A handle for the browser tests, to drop the live connections as a network would.
    ;(window as unknown as { __hexa?: object }).__hexa = { dropLive: hub.dropAll }
  }, [hub])

  useEffect(() => {
    agent.info(me.model).then(setAgentInfo, () => {})
  }, [me.model])

  const updateTab = useCallback((id: string, patch: Partial<Tab> | ((t: Tab) => Partial<Tab>)) => {
    setTabs((ts) => ts.map((t) => (t.id === id ? { ...t, ...(typeof patch === 'function' ? patch(t) : patch) } : t)))
  }, [])

  const refresh = useCallback(async () => {
    try {
      const list = await api.list()
      setNotebooks(list)
      setListError(null)
      // Follow the server's view of open tabs (a crash, an idle stop, a restart elsewhere).
      setTabs((ts) =>
        ts.map((t) => {
          const nb = list.find((n) => n.notebook_id === t.id)
          if (!nb) return t
          let next: Tab = nb.name !== t.name ? { ...t, name: nb.name } : t
          if (inflight.current.has(t.id)) return next
          if (nb.status === 'failed' && t.status !== 'failed')
            next = { ...next, status: 'failed', reason: nb.reason ?? 'marimo stopped unexpectedly' }
          else if (nb.status === 'stopped' && t.status === 'running')
            next = { ...next, status: 'stopped', reason: nb.reason ?? 'The notebook was stopped (idle, or closed elsewhere).' }
          else if (nb.status === 'starting' && t.status === 'running') next = { ...next, status: 'starting', reason: null }
          else if (nb.status === 'running' && t.status !== 'running')
            next = { ...next, status: 'running', reason: null, generation: t.generation + 1 }
          return next
        }),
      )
      return list
    } catch (err) {
      setListError((err as Error).message)
      return null
    }
  }, [])

  useEffect(() => {
    const timer = window.setInterval(() => {
      if (!document.hidden) void refresh()
    }, POLL_MS)
    return () => window.clearInterval(timer)
  }, [refresh])

  const openNotebook = useCallback(
    async (nb: Pick<Notebook, 'notebook_id' | 'name' | 'path'>, opts: { activate?: boolean } = {}) => {
      const activate = opts.activate ?? true
      const existing = tabsRef.current.find((t) => t.id === nb.notebook_id)
      if (existing) {
        if (activate) setActiveId(existing.id)
        return
      }
      // The server alone decides whether another notebook may run (its 409 says so): a
      // count kept here lags behind a close that is still stopping a notebook.
      setLimitNotice(null)
      const previous = activeIdRef.current
      const tab: Tab = { id: nb.notebook_id, name: nb.name, path: nb.path, status: 'starting', reason: null, generation: 0 }
      tabsRef.current = [...tabsRef.current, tab]
      setTabs((ts) => (ts.some((t) => t.id === tab.id) ? ts : [...ts, tab]))
      if (activate) setActiveId(tab.id)
      inflight.current.add(tab.id)
      try {
        await api.open(nb)
        updateTab(tab.id, (t) => ({ status: 'running', reason: null, generation: t.generation + 1 }))
      } catch (err) {
        if (err instanceof ApiError && (err.status === 409 || err.status === 429) && err.limit) {
          setTabs((ts) => ts.filter((t) => t.id !== tab.id))
          tabsRef.current = tabsRef.current.filter((t) => t.id !== tab.id)
          if (activate) setActiveId(previous)
          if (err.limit === 'max_notebooks_per_user') {
            const n = limitFrom(err) ?? limit
            if (n !== null) setLimit(n)
            setLimitNotice(
              n !== null
                ? `You have reached your limit of ${n} open notebooks. Close a tab (or stop a running notebook) to open “${nb.name}”.`
                : `You have reached your limit of open notebooks. Close a tab (or stop a running notebook) to open “${nb.name}”.`,
            )
          } else {
            setLimitNotice(`The server is running as many notebooks as it can. Try again in a moment. (${err.message})`)
          }
        } else {
          updateTab(tab.id, { status: 'failed', reason: (err as Error).message })
        }
      } finally {
        inflight.current.delete(tab.id)
        void refresh()
      }
    },
    [limit, refresh, updateTab],
  )

  // First load: the list, then the tabs that were open before a reload.
  const restored = useRef(false)
  useEffect(() => {
    void (async () => {
      const list = await refresh()
      if (!list || restored.current) return
      restored.current = true
      let saved: { ids?: string[]; active?: string | null } = {}
      try {
        saved = JSON.parse(localStorage.getItem(storageKey) ?? '{}')
      } catch {
        /* ignore a damaged entry */
      }
      const ids = (saved.ids ?? []).filter((id) => list.some((n) => n.notebook_id === id))
      for (const id of ids) {
        const nb = list.find((n) => n.notebook_id === id)!
        void openNotebook(nb, { activate: false })
      }
      const active = ids.includes(saved.active ?? '') ? saved.active! : (ids[0] ?? null)
      setActiveId(active)
    })()
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [])

  useEffect(() => {
    if (!restored.current) return
    localStorage.setItem(storageKey, JSON.stringify({ ids: tabs.map((t) => t.id), active: activeId }))
  }, [tabs, activeId, storageKey])

  const closeTab = useCallback(
    async (id: string) => {
      const ts = tabsRef.current
      const index = ts.findIndex((t) => t.id === id)
      const rest = ts.filter((t) => t.id !== id)
      tabsRef.current = rest
      setTabs(rest)
      setLimitNotice(null)
      if (activeIdRef.current === id) setActiveId(rest[Math.min(index, rest.length - 1)]?.id ?? null)
      try {
        await api.close(id)
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) toast.error('Could not stop the notebook', err)
      }
      void refresh()
    },
    [refresh, toast],
  )

  const restartTab = useCallback(
    async (id: string) => {
      updateTab(id, { status: 'starting', reason: null })
      inflight.current.add(id)
      try {
        await api.restart(id)
        updateTab(id, (t) => ({ status: 'running', reason: null, generation: t.generation + 1 }))
      } catch (err) {
        if (err instanceof ApiError && err.limit === 'max_notebooks_per_user') {
          updateTab(id, { status: 'failed', reason: err.message })
          setLimitNotice(`You have reached your limit of open notebooks. Close another tab first.`)
        } else updateTab(id, { status: 'failed', reason: (err as Error).message })
      } finally {
        inflight.current.delete(id)
        void refresh()
      }
    },
    [refresh, updateTab],
  )

  const renameNotebook = useCallback(
    async (nb: Notebook, name: string) => {
      try {
        const updated = await api.rename(nb.notebook_id, name)
        setNotebooks((list) => list?.map((n) => (n.notebook_id === nb.notebook_id ? updated : n)) ?? null)
        updateTab(nb.notebook_id, { name: updated.name })
        return true
      } catch (err) {
        toast.error(`Could not rename “${nb.name}”`, err)
        return false
      }
    },
    [toast, updateTab],
  )

  const deleteNotebook = useCallback(
    async (nb: Notebook) => {
      try {
        await api.remove(nb.notebook_id)
        const rest = tabsRef.current.filter((t) => t.id !== nb.notebook_id)
        if (rest.length !== tabsRef.current.length) {
          tabsRef.current = rest
          setTabs(rest)
          if (activeIdRef.current === nb.notebook_id) setActiveId(rest[0]?.id ?? null)
        }
        setNotebooks((list) => list?.filter((n) => n.notebook_id !== nb.notebook_id) ?? null)
        toast.ok(`Deleted “${nb.name}”`)
      } catch (err) {
        toast.error(`Could not delete “${nb.name}”`, err)
      }
      setDialog(null)
      void refresh()
    },
    [refresh, toast],
  )

  const created = useCallback(
    async (nb: CreatedNotebook | Notebook) => {
      setDialog(null)
      await refresh()
      void openNotebook(nb)
    },
    [openNotebook, refresh],
  )

  const active = tabs.find((t) => t.id === activeId) ?? null
  const openIds = new Set(tabs.map((t) => t.id))
  // What counts against the limit, as the server counts it (refreshed after every open and
  // close): notebooks starting or running, with a tab here or not.
  const running = new Set(
    (notebooks ?? []).filter((n) => n.status === 'running' || n.status === 'starting').map((n) => n.notebook_id),
  )

  return (
    <div className={railOpen ? 'app' : 'app rail-collapsed'}>
      <header className="topbar">
        <div className="brand">
          <Icon name="hex" size={20} className="brand-mark" />
          <span>Hexa</span>
        </div>
        <button
          type="button"
          className="icon-button"
          aria-label={railOpen ? 'Hide notebook list' : 'Show notebook list'}
          aria-expanded={railOpen}
          aria-controls="notebook-rail"
          onClick={() => setRailOpen((o) => !o)}
        >
          <Icon name={railOpen ? 'chevronLeft' : 'chevronRight'} />
        </button>
        <div className="topbar-title">{active ? active.name : 'No notebook open'}</div>
        <div className="topbar-spacer" />
        <span className="pill" title="Open notebooks">
          {limit !== null ? `${running.size} of ${limit} open` : `${running.size} open`}
        </span>
        <span className="pill pill-model" title="The agent's model">
          <span className="muted">Model</span> <strong aria-label="Model in use">{agentInfo.model}</strong>
        </span>
        <span className="user" aria-label="Signed in as">
          <span className="avatar" aria-hidden="true">
            {me.name.slice(0, 1).toUpperCase()}
          </span>
          {me.name}
        </span>
        <button type="button" className="icon-button" aria-label="Sign out" title="Sign out" onClick={onSignOut}>
          <Icon name="logout" />
        </button>
      </header>

      <NotebookRail
        open={railOpen}
        notebooks={notebooks}
        error={listError}
        openIds={openIds}
        activeId={activeId}
        onOpen={(nb) => void openNotebook(nb)}
        onNew={() => setDialog({ kind: 'new' })}
        onImport={() => setDialog({ kind: 'import' })}
        onGenerate={() => setDialog({ kind: 'generate' })}
        onRename={renameNotebook}
        onDelete={(nb) => setDialog({ kind: 'delete', notebook: nb })}
        onStop={(nb) => void closeTab(nb.notebook_id)}
        onRetry={() => void refresh()}
      />

      <main className="main" aria-label="Notebooks">
        <TabStrip
          tabs={tabs}
          activeId={activeId}
          live={liveStates}
          onSelect={setActiveId}
          onClose={(id) => void closeTab(id)}
        />
        {limitNotice && (
          <div className="banner banner-warn" role="alert">
            <Icon name="alert" />
            <span>{limitNotice}</span>
            <button type="button" className="link-button" onClick={() => setLimitNotice(null)}>
              Dismiss
            </button>
          </div>
        )}
        <NotebookPanels
          tabs={tabs}
          activeId={activeId}
          onRestart={(id) => void restartTab(id)}
          onClose={(id) => void closeTab(id)}
          empty={
            <div className="empty">
              <Icon name="notebook" size={36} />
              <h2>No notebook open</h2>
              <p className="muted">Open one from the list, or start a new one.</p>
              <div className="row">
                <button type="button" className="button primary" onClick={() => setDialog({ kind: 'new' })}>
                  <Icon name="plus" /> New notebook
                </button>
                <button type="button" className="button" onClick={() => setDialog({ kind: 'generate' })}>
                  <Icon name="sparkles" /> Generate
                </button>
              </div>
            </div>
          }
        />
      </main>

      <aside className="side" aria-label="Assistant">
        <div className="side-tabs" role="tablist" aria-label="Side panel">
          <button
            type="button"
            role="tab"
            id="side-tab-chat"
            aria-selected={side === 'chat'}
            aria-controls="side-chat"
            onClick={() => setSide('chat')}
          >
            <Icon name="chat" /> Chat
          </button>
          <button
            type="button"
            role="tab"
            id="side-tab-activity"
            aria-selected={side === 'activity'}
            aria-controls="side-activity"
            onClick={() => setSide('activity')}
          >
            <Icon name="activity" /> Activity
          </button>
          <div className="topbar-spacer" />
          {active && (
            <LiveIndicator state={liveStates[active.id] ?? 'connecting'} />
          )}
        </div>
        <div id="side-chat" role="tabpanel" aria-labelledby="side-tab-chat" className="side-panel" hidden={side !== 'chat'}>
          {tabs.length === 0 && (
            <div className="side-empty muted">Open a notebook to talk to the agent about it.</div>
          )}
          {tabs.map((t) => (
            <ChatPanel
              key={t.id}
              notebookId={t.id}
              notebookName={t.name}
              visible={t.id === activeId}
              running={t.status === 'running'}
              hub={hub}
              liveState={liveStates[t.id] ?? 'connecting'}
              agentInfo={agentInfo}
              onTurnDone={() => setAuditTick((n) => n + 1)}
              onRestarted={() => updateTab(t.id, (x) => ({ generation: x.generation + 1 }))}
            />
          ))}
        </div>
        <div
          id="side-activity"
          role="tabpanel"
          aria-labelledby="side-tab-activity"
          className="side-panel"
          hidden={side !== 'activity'}
        >
          {side === 'activity' &&
            (active ? (
              <ActivityPanel key={active.id} notebookId={active.id} notebookName={active.name} tick={auditTick} />
            ) : (
              <div className="side-empty muted">Open a notebook to see what the agent did in it.</div>
            ))}
        </div>
      </aside>

      {dialog?.kind === 'new' && <NewNotebookDialog onClose={() => setDialog(null)} onCreated={created} />}
      {dialog?.kind === 'import' && <ImportDialog onClose={() => setDialog(null)} onCreated={created} />}
      {dialog?.kind === 'generate' && <GenerateDialog onClose={() => setDialog(null)} onCreated={created} />}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title="Delete notebook"
          danger
          confirmLabel="Delete"
          message={
            <>
              <p>
                Delete <strong>{dialog.notebook.name}</strong>? Its file <code>{dialog.notebook.path}</code> is
                removed and it cannot be undone.
              </p>
            </>
          }
          onConfirm={() => deleteNotebook(dialog.notebook)}
          onClose={() => setDialog(null)}
        />
      )}
    </div>
  )
}
