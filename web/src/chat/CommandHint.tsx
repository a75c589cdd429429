// What the builtin model understands, as commands to click into the composer.

import { useState } from 'react'
import type { Command } from '../api/types'

export function CommandHint({ commands, onPick }: { commands: Command[]; onPick: (c: Command) => void }) {
  const [all, setAll] = useState(commands.length <= 10)
  const shown = all ? commands : commands.slice(0, 8)
  return (
    <div className="hint" role="group" aria-label="What the builtin model understands">
      <p className="small muted">The builtin model understands (click one to start):</p>
      <ul>
        {shown.map((c) => (
          <li key={c.command}>
            <button type="button" className="hint-command" title={c.does} onClick={() => onPick(c)}>
              <code>{c.command}</code>
            </button>
          </li>
        ))}
        {!all && (
          <li>
            <button type="button" className="link-button small" onClick={() => setAll(true)}>
              {commands.length - shown.length} more…
            </button>
          </li>
        )}
      </ul>
    </div>
  )
}
