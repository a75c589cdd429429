import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { notebooks } from '../api/hexa'
import { useTemplates } from '../api/queries'
import type { NotebookSummary } from '../api/types'
import { ErrorBlock } from './Diagnostics'
import { Modal } from './Modal'

export function NewNotebookDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void
  onCreated: (nb: NotebookSummary) => void
}) {
  const [name, setName] = useState('')
  const [template, setTemplate] = useState('blank')
  const { templates, error: templatesError } = useTemplates()
  // The workspace lists the new notebook again before it opens it.
  const create = useMutation({
    mutationFn: (form: { name: string; template: string }) => notebooks.create(form.name, form.template),
    onSuccess: (nb) => onCreated(nb),
  })
  // Once a create was tried, its outcome is what matters, not the templates.
  const error = create.isIdle ? templatesError : create.error
  // Still busy after success: the dialog is closing.
  const busy = create.isPending || create.isSuccess

  function submit(e: FormEvent) {
    e.preventDefault()
    if (!name.trim()) return
    create.mutate({ name: name.trim(), template })
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
