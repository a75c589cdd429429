// Whether the active notebook's live connection is up.

import type { LiveState } from '../live/hub'
import { Icon } from './Icon'

const LIVE_LABEL: Record<LiveState, string> = { online: 'Live', offline: 'Offline', connecting: 'Connecting' }

export function LiveIndicator({ state }: { state: LiveState }) {
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
