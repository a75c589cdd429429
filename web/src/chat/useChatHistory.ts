// The stored conversation of a notebook, read into the conversation reducer: once when the
// panel opens (and on Retry), and quietly after a turn that ran elsewhere. A plain request
// rather than a query: the stored history only seeds local state that turns then change.

import { useCallback, useEffect, useRef, type Dispatch } from 'react'
import { agent } from '../api/agent'
import { ApiError, errorMessage } from '../api/client'
import type { ConversationAction } from './conversation'

export function useChatHistory(notebookId: string, dispatch: Dispatch<ConversationAction>, isStreaming: () => boolean) {
  const reload = useCallback(async () => {
    dispatch({ type: 'loading' })
    try {
      dispatch({ type: 'loaded', history: await agent.history(notebookId) })
    } catch (err) {
      // FastAPI's bare 404: this server has no agent.
      const unavailable = err instanceof ApiError && err.status === 404 && err.detail === 'Not Found'
      dispatch({ type: 'loadFailed', unavailable, message: errorMessage(err) })
    }
  }, [notebookId, dispatch])

  useEffect(() => {
    void reload()
  }, [reload])

  // A turn run elsewhere (another browser tab, another client): show it once it is done.
  // Events come in bursts, so wait for a quiet moment; never overwrite a turn streaming here.
  const quietTimer = useRef<number | undefined>(undefined)
  const reloadQuietly = useCallback(() => {
    window.clearTimeout(quietTimer.current)
    quietTimer.current = window.setTimeout(async () => {
      if (isStreaming()) return
      try {
        const history = await agent.history(notebookId)
        if (!isStreaming()) dispatch({ type: 'loaded', history, quiet: true })
      } catch {
        /* the next event or a reload will catch up */
      }
    }, 300)
  }, [notebookId, dispatch, isStreaming])
  useEffect(() => () => window.clearTimeout(quietTimer.current), [])

  return { reload, reloadQuietly }
}
