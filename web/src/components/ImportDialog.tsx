import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { ApiError } from '../api/client'
import { generation } from '../api/hexa'
import type { CreatedNotebook } from '../api/types'
import { ErrorBlock } from './Diagnostics'
import { Modal } from './Modal'

async function importFile(file: File, name?: string): Promise<CreatedNotebook> {
  try {
    return await generation.importFile(file, name)
  } catch (err) {
    if (err instanceof ApiError && err.notAvailable && err.detail === 'Not Found')
      throw new Error('This server cannot import notebooks yet.')
    throw err
  }
}

export function ImportDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void
  onCreated: (nb: CreatedNotebook) => void
}) {
  const [file, setFile] = useState<File | null>(null)
  const [name, setName] = useState('')
  // A file of the wrong kind is refused here, before any request.
  const [wrongKind, setWrongKind] = useState<Error | null>(null)
  const upload = useMutation({
    mutationFn: (form: { file: File; name?: string }) => importFile(form.file, form.name),
    onSuccess: (nb) => onCreated(nb),
  })
  const error = wrongKind ?? upload.error
  // Still busy after success: the dialog is closing.
  const busy = upload.isPending || upload.isSuccess

  function submit(e: FormEvent) {
    e.preventDefault()
    if (!file) return
    if (!/\.(py|ipynb)$/i.test(file.name)) {
      upload.reset()
      setWrongKind(new Error('Choose a marimo .py file or a Jupyter .ipynb notebook.'))
      return
    }
    setWrongKind(null)
    upload.mutate({ file, name: name.trim() || undefined })
  }

  return (
    <Modal
      title="Import a notebook"
      onClose={onClose}
      busy={busy}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="import-form" className="button primary" disabled={busy || !file}>
            {busy ? 'Importing…' : 'Import and open'}
          </button>
        </>
      }
    >
      <form id="import-form" className="form" onSubmit={submit}>
        <p className="muted">
          A marimo notebook (<code>.py</code>) is checked and kept as it is; a Jupyter notebook (<code>.ipynb</code>)
          is converted with marimo's converter.
        </p>
        <label className="field">
          <span>Notebook file (.py or .ipynb)</span>
          <input
            type="file"
            accept=".py,.ipynb,text/x-python,application/x-ipynb+json"
            onChange={(e) => {
              const f = e.target.files?.[0] ?? null
              setFile(f)
              setWrongKind(null)
              upload.reset()
              if (f && !name) setName(f.name.replace(/\.(py|ipynb)$/i, ''))
            }}
          />
        </label>
        <label className="field">
          <span>Name (optional)</span>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={120} />
        </label>
        <ErrorBlock error={error} />
      </form>
    </Modal>
  )
}
