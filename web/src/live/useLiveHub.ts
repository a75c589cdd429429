// The workspace's one LiveHub: a socket for each open notebook, and their states for the UI.

import { useEffect, useMemo, useSyncExternalStore } from 'react'
import { LiveHub } from './hub'

export function useLiveHub(notebookIds: string[]) {
  const hub = useMemo(() => new LiveHub(), [])
  useEffect(() => () => hub.dispose(), [hub])
  const states = useSyncExternalStore(hub.onState, hub.states)

  // A string, so that an equal list of ids does not resync.
  const ids = notebookIds.join('\n')
  useEffect(() => {
    hub.sync(ids ? ids.split('\n') : [])
  }, [hub, ids])

  useEffect(() => {
    // A handle for the browser tests, to drop the live connections as a network would.
    ;(window as unknown as { __hexa?: object }).__hexa = { dropLive: hub.dropAll }
  }, [hub])

  return { hub, states }
}
