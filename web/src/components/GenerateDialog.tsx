import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { ApiError } from '../api/client'
import { generation } from '../api/hexa'
import type { CreatedNotebook } from '../api/types'
import { ErrorBlock } from './Diagnostics'
import { MermaidPreview } from './MermaidPreview'
import { Modal } from './Modal'
import { useToast } from './Toasts'

const EXAMPLE = `flowchart TD
    A[Load sales.csv] --> B[Clean the data]
    B --> C{Enough rows?}
    C -->|yes| D[Monthly totals]
    C -->|no| E[Report missing data]
    D --> F[Plot the trend]`

export function GenerateDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void
  onCreated: (nb: CreatedNotebook) => void
}) {
  const [mode, setMode] = useState<'prompt' | 'mermaid'>('prompt')
  const [prompt, setPrompt] = useState('')
  const [mermaid, setMermaid] = useState('')
  const [name, setName] = useState('')
  const toast = useToast()
  const generate = useMutation({
    mutationFn: async (form: { mode: typeof mode; source: string; name?: string }) => {
      try {
        return form.mode === 'prompt'
          ? await generation.fromPrompt(form.source, form.name)
          : await generation.fromMermaid(form.source, form.name)
      } catch (err) {
        if (err instanceof ApiError && err.notAvailable && err.detail === 'Not Found')
          throw new Error('This server cannot generate notebooks yet.')
        throw err
      }
    },
    onSuccess: (made) => {
      if (made.remaining_errors?.length)
        toast.error(`“${made.name}” has cells that still fail`, new Error(made.remaining_errors.join('\n')))
      else if (made.notes?.length) toast.info(`Generated “${made.name}”`, made.notes.join(' '))
      onCreated(made)
    },
  })
  const input = mode === 'prompt' ? prompt : mermaid
  // Still busy after success: the dialog is closing.
  const busy = generate.isPending || generate.isSuccess

  function submit(e: FormEvent) {
    e.preventDefault()
    if (!input.trim()) return
    generate.mutate({ mode, source: input, name: name.trim() || undefined })
  }

  return (
    <Modal
      title="Generate a notebook"
      onClose={onClose}
      busy={busy}
      width={mode === 'mermaid' ? 860 : 560}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="generate-form" className="button primary" disabled={busy || !input.trim()}>
            {busy ? 'Generating…' : 'Generate and open'}
          </button>
        </>
      }
    >
      <form id="generate-form" className="form" onSubmit={submit}>
        <div className="segmented" role="radiogroup" aria-label="Generate from">
          <label className={mode === 'prompt' ? 'selected' : ''}>
            <input type="radio" name="mode" checked={mode === 'prompt'} onChange={() => setMode('prompt')} />
            From a prompt
          </label>
          <label className={mode === 'mermaid' ? 'selected' : ''}>
            <input type="radio" name="mode" checked={mode === 'mermaid'} onChange={() => setMode('mermaid')} />
            From a Mermaid diagram
          </label>
        </div>
        {mode === 'prompt' ? (
          <label className="field">
            <span>Prompt</span>
            <textarea
              rows={6}
              value={prompt}
              onChange={(e) => setPrompt(e.target.value)}
              placeholder="Load a CSV of daily sales, clean it, and plot the monthly totals with a trend line."
              autoFocus
            />
          </label>
        ) : (
          <div className="mermaid-editor">
            <div className="field">
              <span className="field-head">
                <label htmlFor="mermaid-source">Mermaid flowchart</label>
                {!mermaid && (
                  <button type="button" className="link-button" onClick={() => setMermaid(EXAMPLE)}>
                    Use an example
                  </button>
                )}
              </span>
              <textarea
                id="mermaid-source"
                className="mono"
                rows={14}
                value={mermaid}
                spellCheck={false}
                onChange={(e) => setMermaid(e.target.value)}
                placeholder={'flowchart TD\n    A[Load] --> B[Transform]'}
                autoFocus
              />
            </div>
            <div className="field">
              <span>Preview</span>
              <MermaidPreview source={mermaid} />
            </div>
          </div>
        )}
        <label className="field">
          <span>Name (optional)</span>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={120} />
        </label>
        <p className="muted small">
          Each step of the chart becomes a cell that reads the cells before it. With the builtin model the cells are
          clear stubs; a configured model writes the code.
        </p>
        <ErrorBlock error={generate.error} />
      </form>
    </Modal>
  )
}
