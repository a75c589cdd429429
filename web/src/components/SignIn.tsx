import { useState, type FormEvent } from 'react'
import { auth } from '../api/hexa'
import { ApiError, errorMessage } from '../api/client'
import { Icon } from './Icon'

export function SignIn({ failedLink, onSignedIn }: { failedLink: boolean; onSignedIn: () => void }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(
    failedLink ? 'The sign-in link has a token this server does not know. Paste a valid token.' : null,
  )
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!token.trim()) return
    setBusy(true)
    setError(null)
    try {
      await auth.login(token.trim())
      onSignedIn()
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div className="brand brand-large">
          <Icon name="hex" size={26} className="brand-mark" />
          <span>Hexa</span>
        </div>
        <h1 id="signin-title">Sign in</h1>
        <p className="muted">
          Open the link that <code>hexa serve</code> printed, or paste its token here. An administrator can
          give you one with <code>hexa user add</code>.
        </p>
        <label className="field">
          <span>Access token</span>
          <input
            type="password"
            autoComplete="current-password"
            autoFocus
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-invalid={!!error}
            aria-describedby={error ? 'signin-error' : undefined}
          />
        </label>
        {error && (
          <p id="signin-error" className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button primary wide" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
