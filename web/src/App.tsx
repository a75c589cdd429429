import { useCallback, useEffect, useState } from 'react'
import { auth } from './api/hexa'
import { ApiError, errorMessage, onUnauthorized } from './api/client'
import type { Me } from './api/types'
import { SignIn } from './components/SignIn'
import { ToastProvider } from './components/Toasts'
import { Workspace } from './components/Workspace'

type Session = { kind: 'loading' } | { kind: 'signed-out' } | { kind: 'error'; message: string } | { kind: 'in'; me: Me }

// `/?signin=failed` comes back from the server after a bad `/?token=`; read it once and
// drop it from the address bar.
const failedLink = new URLSearchParams(location.search).get('signin') === 'failed'
if (failedLink) history.replaceState(null, '', location.pathname)

export default function App() {
  const [session, setSession] = useState<Session>({ kind: 'loading' })

  const load = useCallback(async () => {
    try {
      setSession({ kind: 'in', me: await auth.me() })
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setSession({ kind: 'signed-out' })
      else setSession({ kind: 'error', message: errorMessage(err) })
    }
  }, [])

  useEffect(() => {
    void load()
    return onUnauthorized(() => setSession({ kind: 'signed-out' }))
  }, [load])

  const signOut = useCallback(async () => {
    try {
      await auth.logout()
    } finally {
      setSession({ kind: 'signed-out' })
    }
  }, [])

  if (session.kind === 'loading') return <div className="boot" role="status" aria-label="Loading" />
  if (session.kind === 'error')
    return (
      <main className="signin">
        <div className="signin-card" role="alert">
          <h1>Hexa is not reachable</h1>
          <p className="muted">{session.message}</p>
          <button type="button" className="button primary" onClick={() => void load()}>
            Try again
          </button>
        </div>
      </main>
    )
  if (session.kind === 'signed-out') return <SignIn failedLink={failedLink} onSignedIn={() => void load()} />
  return (
    <ToastProvider>
      <Workspace me={session.me} onSignOut={signOut} />
    </ToastProvider>
  )
}
