// The bar across the top: the rail toggle, the shown notebook, how many are open, the
// agent's model, who is signed in.

import { Icon } from './Icon'

export function TopBar({
  railOpen,
  onToggleRail,
  title,
  openCount,
  limit,
  model,
  userName,
  onSignOut,
}: {
  railOpen: boolean
  onToggleRail: () => void
  title: string
  openCount: number
  limit: number
  model: string
  userName: string
  onSignOut: () => void
}) {
  return (
    <header className="topbar">
      <div className="brand">
        <Icon name="hex" size={20} className="brand-mark" />
        <span>Hexa</span>
      </div>
      <button
        type="button"
        className="icon-button"
        aria-label={railOpen ? 'Hide notebook list' : 'Show notebook list'}
        aria-expanded={railOpen}
        aria-controls="notebook-rail"
        onClick={onToggleRail}
      >
        <Icon name={railOpen ? 'chevronLeft' : 'chevronRight'} />
      </button>
      <div className="topbar-title">{title}</div>
      <div className="topbar-spacer" />
      <span className="pill" title="Open notebooks">
        {`${openCount} of ${limit} open`}
      </span>
      <span className="pill pill-model" title="The agent's model">
        <span className="muted">Model</span> <strong aria-label="Model in use">{model}</strong>
      </span>
      <span className="user" aria-label="Signed in as">
        <span className="avatar" aria-hidden="true">
          {userName.slice(0, 1).toUpperCase()}
        </span>
        {userName}
      </span>
      <button type="button" className="icon-button" aria-label="Sign out" title="Sign out" onClick={onSignOut}>
        <Icon name="logout" />
      </button>
    </header>
  )
}
