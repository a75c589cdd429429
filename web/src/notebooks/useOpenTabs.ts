// The notebooks open in tabs here: opening (the server may refuse: the limit), closing
// (stops the notebook), restarting, and following the server's status of each.

import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useReducer, useRef } from 'react'
import { ApiError } from '../api/client'
import { notebooks as api } from '../api/hexa'
import { queryKeys } from '../api/queryClient'
import type { Me, NotebookSummary } from '../api/types'
import { useToast } from '../components/Toasts'
import { initialTabs, tabsReducer, type Refusal } from './openTabs'
import { useRememberedTabs } from './useRememberedTabs'

type Openable = Pick<NotebookSummary, 'notebook_id' | 'name' | 'path'>
interface OpenVars {
  notebook: Openable
  activate: boolean
  /** The tab shown before, to show again if the server refuses. */
  previous: string | null
}

/** A 409/429 names the setting whose cap it hit (LimitErrorOut's `limit`). */
function refusalOf(err: unknown): Refusal | null {
  if (!(err instanceof ApiError) || err.limit === null) return null
  return err.limit === 'max_notebooks_per_user' ? { kind: 'user-limit' } : { kind: 'server-busy', message: err.message }
}

export function useOpenTabs(me: Me, list: { data: NotebookSummary[] | undefined; dataUpdatedAt: number }) {
  const client = useQueryClient()
  const toast = useToast()
  const [state, dispatch] = useReducer(tabsReducer, me.max_notebooks_per_user, initialTabs)
  // Opens and restarts under way: the server's list must not overrule their tab meanwhile.
  const inflight = useRef(new Set<string>())
  // Tabs brought back by `reopen` that have not started yet, in the order they will.
  const waiting = useRef<Openable[]>([])
  // The state as last rendered, for the "already open?" check of an open.
  const rendered = useRef(state)
  rendered.current = state

  const refreshList = useCallback(() => client.invalidateQueries({ queryKey: queryKeys.notebookList }), [client])
  // What starts after an open settles (the next tab waiting its turn, see `reopen`).
  const next = useRef<() => void>(() => {})
  const settled = (id: string) => {
    inflight.current.delete(id)
    void refreshList()
    next.current()
  }

  const { mutate: startOpen } = useMutation({
    mutationFn: ({ notebook }: OpenVars) => api.open(notebook),
    onSuccess: (_, { notebook }) => dispatch({ type: 'running', id: notebook.notebook_id }),
    onError: (err, { notebook, activate, previous }) => {
      const refusal = refusalOf(err)
      const id = notebook.notebook_id
      if (refusal)
        dispatch({ type: 'refused', id, name: notebook.name, refusal, reactivate: activate ? previous : undefined })
      else dispatch({ type: 'failed', id, reason: err.message })
    },
    onSettled: (_, __, { notebook }) => settled(notebook.notebook_id),
  })

  // Closes under way: an open or restart waits for them, so that a notebook just closed
  // no longer counts against the person's limit when the server counts.
  const closing = useRef(new Set<Promise<unknown>>())
  // Opens and restarts held back meanwhile; whether the notebook was running before (a
  // restart's: its close is still sent if its tab closes while it waits).
  const held = useRef(new Map<string, boolean>())
  const afterCloses = useCallback((id: string, ranBefore: boolean, start: () => void) => {
    const pending = [...closing.current]
    if (pending.length === 0) return start()
    held.current.set(id, ranBefore)
    void Promise.allSettled(pending).then(() => {
      if (held.current.delete(id)) start() // its tab was not closed meanwhile
    })
  }, [])
  const { mutateAsync: closeAsync } = useMutation({
    mutationFn: (id: string) => api.close(id),
    onError: (err) => {
      if (!(err instanceof ApiError && err.status === 404)) toast.error('Could not stop the notebook', err)
    },
    onSettled: () => void refreshList(),
  })

  const { mutate: startRestart } = useMutation({
    mutationFn: (id: string) => api.restart(id),
    onSuccess: (_, id) => dispatch({ type: 'running', id }),
    onError: (err, id) => {
      if (err instanceof ApiError && err.limit === 'max_notebooks_per_user')
        dispatch({
          type: 'failed',
          id,
          reason: err.message,
          notice: 'You have reached your limit of open notebooks. Close another tab first.',
        })
      else dispatch({ type: 'failed', id, reason: err.message })
    },
    onSettled: (_, __, id) => settled(id),
  })

  const open = useCallback(
    (notebook: Openable, { activate = true }: { activate?: boolean } = {}) => {
      const id = notebook.notebook_id
      if (inflight.current.has(id) || rendered.current.tabs.some((t) => t.id === id)) {
        if (activate) dispatch({ type: 'select', id })
        return
      }
      // The server alone decides whether another notebook may run (its 409 says so): a
      // count kept here lags behind a close that is still stopping a notebook.
      inflight.current.add(id)
      const previous = rendered.current.activeId
      dispatch({ type: 'add', notebook, activate })
      afterCloses(id, false, () => startOpen({ notebook, activate, previous }))
    },
    [startOpen, afterCloses],
  )

  const close = useCallback(
    (id: string) => {
      const queued = waiting.current.findIndex((n) => n.notebook_id === id)
      const ranBefore = held.current.get(id)
      held.current.delete(id)
      if (queued >= 0) waiting.current.splice(queued, 1)
      if (queued >= 0 || ranBefore !== undefined) inflight.current.delete(id) // never sent
      dispatch({ type: 'close', id })
      if (queued >= 0) return // never started: nothing to stop
      if (ranBefore === false) return next.current() // a held open ends: the next tab's turn
      const stopping = closeAsync(id).catch(() => undefined) // its onError tells the person
      closing.current.add(stopping)
      void stopping.finally(() => closing.current.delete(stopping))
    },
    [closeAsync],
  )

  const restart = useCallback(
    (id: string) => {
      dispatch({ type: 'starting', id })
      inflight.current.add(id)
      afterCloses(id, true, () => startRestart(id))
    },
    [startRestart, afterCloses],
  )

  /** A notebook just made (new, imported, generated): list it, then open it. */
  const openCreated = useCallback(
    async (notebook: Openable) => {
      await refreshList()
      open(notebook)
    },
    [open, refreshList],
  )

  // Every read of the list (a poll, a push, a refetch after an open) is followed by the tabs.
  useEffect(() => {
    if (list.data) dispatch({ type: 'follow', list: list.data, inflight: new Set(inflight.current) })
  }, [list.data, list.dataUpdatedAt])

  // Tabs brought back after a sign-in or reload start one at a time, the shown one first
  // (starting them all at once made every one wait on the others for CPU): the next one
  // starts when an open has settled, or at once when the person shows it.
  const startWaiting = useCallback(
    (id?: string) => {
      const at = id === undefined ? 0 : waiting.current.findIndex((n) => n.notebook_id === id)
      if (at < 0 || at >= waiting.current.length) return
      const [notebook] = waiting.current.splice(at, 1)
      const previous = rendered.current.activeId
      afterCloses(notebook.notebook_id, false, () => startOpen({ notebook, activate: false, previous }))
    },
    [startOpen, afterCloses],
  )
  next.current = () => startWaiting()

  const reopen = useCallback(
    (notebooks: NotebookSummary[], active: string | null) => {
      const first = notebooks.find((n) => n.notebook_id === active) ?? notebooks[0]
      if (first) open(first, { activate: false })
      for (const nb of notebooks) {
        if (nb === first || inflight.current.has(nb.notebook_id)) continue
        inflight.current.add(nb.notebook_id)
        dispatch({ type: 'add', notebook: nb, activate: false })
        waiting.current.push(nb)
      }
      dispatch({ type: 'select', id: active })
    },
    [open],
  )
  useRememberedTabs(me.name, state, list.data, reopen)

  return {
    ...state,
    active: state.tabs.find((t) => t.id === state.activeId) ?? null,
    open,
    close,
    restart,
    openCreated,
    select: (id: string) => {
      startWaiting(id) // a tab still waiting its turn starts when shown
      dispatch({ type: 'select', id })
    },
    dismissNotice: () => dispatch({ type: 'dismiss' }),
    /** The agent restarted the notebook's marimo: load its editor again. */
    reload: (id: string) => dispatch({ type: 'reload', id }),
    /** The notebook was deleted: drop its tab. */
    forget: (id: string) => dispatch({ type: 'forget', id }),
  }
}
