// The main screen: notebooks on the left, open notebooks in tabs, the agent on the right.
// The state is in hooks: the list (useNotebookList), the tabs (useOpenTabs), the sockets
// (useLiveHub); this file lays them out.

import { useState } from 'react'
import { useAgentInfo } from '../api/queries'
import type { CreatedNotebook, Me, NotebookSummary } from '../api/types'
import { useLiveHub } from '../live/useLiveHub'
import { useNotebookActions } from '../notebooks/useNotebookActions'
import { countRunning, useNotebookList, useNotebookStatusPushes } from '../notebooks/useNotebookList'
import { useOpenTabs } from '../notebooks/useOpenTabs'
import { GenerateDialog } from './GenerateDialog'
import { Icon } from './Icon'
import { ImportDialog } from './ImportDialog'
import { ConfirmDialog } from './Modal'
import { NewNotebookDialog } from './NewNotebookDialog'
import { NotebookRail } from './NotebookRail'
import { SidePanel } from './SidePanel'
import { NotebookPanels, TabStrip } from './Tabs'
import { TopBar } from './TopBar'

type DialogState =
  | null
  | { kind: 'new' }
  | { kind: 'import' }
  | { kind: 'generate' }
  | { kind: 'delete'; notebook: NotebookSummary }

export function Workspace({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const list = useNotebookList()
  const tabs = useOpenTabs(me, list)
  const live = useLiveHub(tabs.tabs.map((t) => t.id))
  useNotebookStatusPushes(live.hub)
  const actions = useNotebookActions({ onDeleted: tabs.forget })
  const agentInfo = useAgentInfo(me.model)
  const [dialog, setDialog] = useState<DialogState>(null)
  const [railOpen, setRailOpen] = useState(true)

  const created = (nb: CreatedNotebook | NotebookSummary) => {
    setDialog(null)
    void tabs.openCreated(nb)
  }
  const { active, activeId } = tabs

  return (
    <div className={railOpen ? 'app' : 'app rail-collapsed'}>
      <TopBar
        railOpen={railOpen}
        onToggleRail={() => setRailOpen((o) => !o)}
        title={active ? active.name : 'No notebook open'}
        openCount={countRunning(list.data)}
        limit={tabs.limit}
        model={agentInfo.model}
        userName={me.name}
        onSignOut={onSignOut}
      />

      <NotebookRail
        open={railOpen}
        notebooks={list.data ?? null}
        error={list.error ? list.error.message : null}
        openIds={new Set(tabs.tabs.map((t) => t.id))}
        activeId={activeId}
        onOpen={(nb) => tabs.open(nb)}
        onNew={() => setDialog({ kind: 'new' })}
        onImport={() => setDialog({ kind: 'import' })}
        onGenerate={() => setDialog({ kind: 'generate' })}
        onRename={actions.rename}
        onDelete={(nb) => setDialog({ kind: 'delete', notebook: nb })}
        onStop={(nb) => tabs.close(nb.notebook_id)}
        onRetry={() => void list.refetch()}
      />

      <main className="main" aria-label="Notebooks">
        <TabStrip tabs={tabs.tabs} activeId={activeId} live={live.states} onSelect={tabs.select} onClose={tabs.close} />
        {tabs.notice && (
          <div className="banner banner-warn" role="alert">
            <Icon name="alert" />
            <span>{tabs.notice}</span>
            <button type="button" className="link-button" onClick={tabs.dismissNotice}>
              Dismiss
            </button>
          </div>
        )}
        <NotebookPanels
          tabs={tabs.tabs}
          activeId={activeId}
          onRestart={tabs.restart}
          onClose={tabs.close}
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

      <SidePanel
        tabs={tabs.tabs}
        active={active}
        hub={live.hub}
        live={live.states}
        agentInfo={agentInfo}
        onRestarted={tabs.reload}
      />

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
          onConfirm={async () => {
            await actions.remove(dialog.notebook)
            setDialog(null)
          }}
          onClose={() => setDialog(null)}
        />
      )}
    </div>
  )
}
