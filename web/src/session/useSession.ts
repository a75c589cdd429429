// Who is signed in: `/api/me` as a query whose answer is null when signed out. A 401 from
// any request, or signing out, sets it to null and drops the cached data of that user.

import { useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query'
import { useCallback, useEffect } from 'react'
import { ApiError, errorMessage, onUnauthorized } from '../api/client'
import { auth } from '../api/hexa'
import { queryKeys } from '../api/queryClient'
import type { Me } from '../api/types'

export type Session = { kind: 'loading' } | { kind: 'signed-out' } | { kind: 'error'; message: string } | { kind: 'in'; me: Me }

async function fetchMe(): Promise<Me | null> {
  try {
    return await auth.me()
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null
    throw err
  }
}

function signedOut(client: QueryClient) {
  client.setQueryData<Me | null>(queryKeys.me, null)
  client.removeQueries({ predicate: (q) => q.queryKey[0] !== queryKeys.me[0] })
}

export function useSession() {
  const client = useQueryClient()
  const me = useQuery({ queryKey: queryKeys.me, queryFn: fetchMe, staleTime: Infinity })

  useEffect(() => onUnauthorized(() => signedOut(client)), [client])

  const signOut = useCallback(async () => {
    try {
      await auth.logout()
    } finally {
      signedOut(client)
    }
  }, [client])

  // A refetch (after signing in, or "Try again") keeps what is shown until it answers.
  const session: Session = me.isPending
    ? { kind: 'loading' }
    : me.isError
      ? { kind: 'error', message: errorMessage(me.error) }
      : me.data
        ? { kind: 'in', me: me.data }
        : { kind: 'signed-out' }

  return { session, reload: () => void me.refetch(), signOut }
}
