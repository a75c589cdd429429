import { SignIn } from './components/SignIn'
import { ToastProvider } from './components/Toasts'
import { Workspace } from './components/Workspace'
import { useSession } from './session/useSession'

// `/?signin=failed` comes back from the server after a bad `/?token=`; read it once and
// drop it from the address bar.
const failedLink = new URLSearchParams(location.search).get('signin') === 'failed'
if (failedLink) history.replaceState(null, '', location.pathname)

export default function App() {
  const { session, reload, signOut } = useSession()

  if (session.kind === 'loading') return <div className="boot" role="status" aria-label="Loading" />
  if (session.kind === 'error')
    return (
      <main className="signin">
        <div className="signin-card" role="alert">
          <h1>Hexa is not reachable</h1>
          <p className="muted">{session.message}</p>
          <button type="button" className="button primary" onClick={reload}>
            Try again
          </button>
        </div>
      </main>
    )
  if (session.kind === 'signed-out') return <SignIn failedLink={failedLink} onSignedIn={reload} />
  return (
    <ToastProvider>
      <Workspace me={session.me} onSignOut={signOut} />
    </ToastProvider>
  )
}
