// Readable error and info messages, stacked at the bottom of the screen.

import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react'
import { errorMessage } from '../api/client'
import { Icon } from './Icon'

type Tone = 'error' | 'info' | 'ok'
interface Toast {
  id: number
  tone: Tone
  title: string
  text: string
}

interface ToastApi {
  error: (title: string, err: unknown) => void
  info: (title: string, text?: string) => void
  ok: (title: string, text?: string) => void
}

const Ctx = createContext<ToastApi>({ error: () => {}, info: () => {}, ok: () => {} })

export const useToast = () => useContext(Ctx)

let nextId = 1

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([])
  const dismiss = useCallback((id: number) => setToasts((t) => t.filter((x) => x.id !== id)), [])
  const push = useCallback(
    (tone: Tone, title: string, text: string) => {
      const id = nextId++
      setToasts((t) => [...t.slice(-3), { id, tone, title, text }])
      window.setTimeout(() => dismiss(id), tone === 'error' ? 12_000 : 5_000)
    },
    [dismiss],
  )
  const api = useMemo<ToastApi>(
    () => ({
      error: (title, err) => push('error', title, errorMessage(err)),
      info: (title, text = '') => push('info', title, text),
      ok: (title, text = '') => push('ok', title, text),
    }),
    [push],
  )
  return (
    <Ctx.Provider value={api}>
      {children}
      <div className="toasts" aria-label="Notifications">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone}`} role={t.tone === 'error' ? 'alert' : 'status'}>
            <Icon name={t.tone === 'error' ? 'alert' : 'check'} />
            <div className="toast-text">
              <strong>{t.title}</strong>
              {t.text && <span>{t.text}</span>}
            </div>
            <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              <Icon name="close" size={14} />
            </button>
          </div>
        ))}
      </div>
    </Ctx.Provider>
  )
}
