// The user's notebooks as the server sees them: polled, and patched by the live sockets'
// `notebook_status` pushes as they come.

import { useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query'
import { useEffect } from 'react'
import { notebooks as api } from '../api/hexa'
import { queryKeys } from '../api/queryClient'
import type { NotebookEvent, NotebookSummary } from '../api/types'
import type { LiveHub } from '../live/hub'

/** Sockets exist only for open tabs, so the rest of the list (a notebook started in another
 * browser, stopped when idle) still needs a poll. react-query skips it while the page is
 * hidden. Once the server pushes every notebook's status, this can go. */
const LIST_POLL_MS = 5000

export function useNotebookList() {
  return useQuery({ queryKey: queryKeys.notebookList, queryFn: api.list, refetchInterval: LIST_POLL_MS })
}

type StatusEvent = Extract<NotebookEvent, { type: 'notebook_status' }>

/** Put a pushed status into the cached list, as the next poll would have. */
export function applyNotebookStatus(client: QueryClient, event: StatusEvent) {
  const list = client.getQueryData<NotebookSummary[]>(queryKeys.notebookList)
  if (!list) return
  if (!list.some((n) => n.notebook_id === event.notebook_id)) {
    // A notebook this page has not seen yet: read the whole list.
    void client.invalidateQueries({ queryKey: queryKeys.notebookList })
    return
  }
  client.setQueryData<NotebookSummary[]>(queryKeys.notebookList, (old) =>
    old?.map((n) => (n.notebook_id === event.notebook_id ? { ...n, status: event.status, reason: event.detail } : n)),
  )
}

/** Apply every open notebook's `notebook_status` event to the list. */
export function useNotebookStatusPushes(hub: LiveHub) {
  const client = useQueryClient()
  useEffect(
    () =>
      hub.subscribeAll((_, event) => {
        if (event.type === 'notebook_status') applyNotebookStatus(client, event)
      }),
    [hub, client],
  )
}

/** What counts against the limit, as the server counts it: notebooks starting or running,
 * with a tab here or not. */
export function countRunning(list: NotebookSummary[] | undefined): number {
  return (list ?? []).filter((n) => n.status === 'running' || n.status === 'starting').length
}
