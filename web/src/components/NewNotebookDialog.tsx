import { useEffect, useState, type FormEvent } from 'react'
import { listTemplates, notebooks } from '../api/hexa'
import type { Notebook, Template } from '../api/types'
import { ErrorBlock } from './Diagnostics'
import { Modal } from './Modal'

export function NewNotebookDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void
  onCreated: (nb: Notebook) => void
}) {
  const [name, setName] = useState('')
  const [templates, setTemplates] = useState<Template[] | null>(null)
  const [template, setTemplate] = useState('blank')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    listTemplates().then(setTemplates, (err) => {
      setTemplates([{ id: 'blank', title: 'Blank', description: 'An empty notebook.' }])
      setError(err)
    })
  }, [])

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!name.trim()) return
    setBusy(true)
    setError(null)
    try {
      onCreated(await notebooks.create(name.trim(), template))
    } catch (err) {
      setError(err)
      setBusy(false)
    }
  }

  return (
    <Modal
      title="New notebook"
      onClose={onClose}
      busy={busy}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="new-notebook-form" className="button primary" disabled={busy || !name.trim()}>
            {busy ? 'Creating…' : 'Create and open'}
          </button>
        </>
      }
    >
      <form id="new-notebook-form" onSubmit={submit} className="form">
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} autoFocus maxLength={120} placeholder="Sales analysis" />
        </label>
        <fieldset className="field">
          <legend>Template</legend>
          {templates === null ? (
            <p className="muted" role="status">
              Loading templates…
            </p>
          ) : (
            <div className="choice-grid">
              {templates.map((t) => (
                <label key={t.id} className={`choice${template === t.id ? ' selected' : ''}`}>
                  <input
                    type="radio"
                    name="template"
                    value={t.id}
                    checked={template === t.id}
                    onChange={() => setTemplate(t.id)}
                  />
                  <span className="choice-title">{t.title}</span>
                  <span className="choice-desc">{withCode(t.description)}</span>
                </label>
              ))}
            </div>
          )}
        </fieldset>
        <ErrorBlock error={error} />
      </form>
    </Modal>
  )
}

/** `code` spans in a short description as <code>. */
function withCode(text: string) {
  return text.split(/(`[^`]+`)/).map((part, i) =>
    part.startsWith('`') && part.endsWith('`') ? <code key={i}>{part.slice(1, -1)}</code> : part,
  )
}
