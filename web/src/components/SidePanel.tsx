// The assistant beside the notebooks: a chat per open tab (all mounted, one shown) and the
// activity of the shown notebook.

import { useState } from 'react'
import type { AgentInfo } from '../api/types'
import { ChatPanel } from '../chat/ChatPanel'
import type { LiveHub, LiveState } from '../live/hub'
import type { Tab } from '../notebooks/openTabs'
import { ActivityPanel } from './ActivityPanel'
import { Icon } from './Icon'
import { LiveIndicator } from './LiveIndicator'

export function SidePanel({
  tabs,
  active,
  hub,
  live,
  agentInfo,
  onRestarted,
}: {
  tabs: Tab[]
  active: Tab | null
  hub: LiveHub
  live: Record<string, LiveState>
  agentInfo: AgentInfo
  onRestarted: (notebookId: string) => void
}) {
  const [side, setSide] = useState<'chat' | 'activity'>('chat')
  return (
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
        {active && <LiveIndicator state={live[active.id] ?? 'connecting'} />}
      </div>
      <div id="side-chat" role="tabpanel" aria-labelledby="side-tab-chat" className="side-panel" hidden={side !== 'chat'}>
        {tabs.length === 0 && <div className="side-empty muted">Open a notebook to talk to the agent about it.</div>}
        {tabs.map((t) => (
          <ChatPanel
            key={t.id}
            notebookId={t.id}
            notebookName={t.name}
            visible={t.id === active?.id}
            running={t.status === 'running'}
            hub={hub}
            liveState={live[t.id] ?? 'connecting'}
            agentInfo={agentInfo}
            onRestarted={() => onRestarted(t.id)}
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
            <ActivityPanel key={active.id} notebookId={active.id} notebookName={active.name} />
          ) : (
            <div className="side-empty muted">Open a notebook to see what the agent did in it.</div>
          ))}
      </div>
    </aside>
  )
}
