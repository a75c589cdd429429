// The tabs open before a reload come back: their ids and the shown one are kept per user in
// localStorage, and reopened once the notebook list has been read.

import { useEffect, useRef } from 'react'
import type { NotebookSummary } from '../api/types'
import type { OpenTabs } from './openTabs'

interface Remembered {
  ids?: string[]
  active?: string | null
}

function read(key: string): Remembered {
  try {
    return JSON.parse(localStorage.getItem(key) ?? '{}') as Remembered
  } catch {
    return {} // a damaged entry
  }
}

export function useRememberedTabs(
  user: string,
  state: OpenTabs,
  list: NotebookSummary[] | undefined,
  reopen: (notebooks: NotebookSummary[], active: string | null) => void,
) {
  const key = `hexa:tabs:${user}`
  // Nothing is written before the saved tabs are read, or a reload would forget them.
  const restored = useRef(false)

  useEffect(() => {
    if (!list || restored.current) return
    restored.current = true
    const saved = read(key)
    const notebooks = (saved.ids ?? [])
      .map((id) => list.find((n) => n.notebook_id === id))
      .filter((n): n is NotebookSummary => !!n)
    const ids = notebooks.map((n) => n.notebook_id)
    reopen(notebooks, ids.includes(saved.active ?? '') ? saved.active! : (ids[0] ?? null))
  }, [key, list, reopen])

  useEffect(() => {
    if (!restored.current) return
    localStorage.setItem(key, JSON.stringify({ ids: state.tabs.map((t) => t.id), active: state.activeId }))
  }, [key, state.tabs, state.activeId])
}
