// The message box: the draft, Enter to send (Shift+Enter for a new line), and filling it
// with one of the builtin model's commands.

import { useRef, useState, type KeyboardEvent } from 'react'
import type { Command } from '../api/types'

/** `onSend` says whether the message was taken; only then is the box emptied. */
export function useComposer(onSend: (text: string) => boolean) {
  const [draft, setDraft] = useState('')
  const [showHint, setShowHint] = useState(false)
  const inputRef = useRef<HTMLTextAreaElement>(null)

  const submit = () => {
    const text = draft.trim()
    if (text && onSend(text)) setDraft('')
  }

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      submit()
    }
  }

  /** Fill the box with a command, the cursor where the person types next. */
  const pick = (command: Command) => {
    const text = command.command.replace(/```(?:python)?\s*(?:\.\.\.|…)?\s*```/, '```python\n\n```')
    setDraft(text)
    setShowHint(false)
    requestAnimationFrame(() => {
      const el = inputRef.current
      if (!el) return
      el.focus()
      const id = text.indexOf('<id>')
      const code = text.indexOf('\n\n```')
      if (id >= 0) el.setSelectionRange(id, id + 4)
      else if (code >= 0) el.setSelectionRange(code + 1, code + 1)
      else el.setSelectionRange(text.length, text.length)
    })
  }

  return {
    draft,
    setDraft,
    showHint,
    toggleHint: () => setShowHint((s) => !s),
    inputRef,
    submit,
    onKeyDown,
    pick,
  }
}
