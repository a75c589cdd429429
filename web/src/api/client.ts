// The one place that speaks HTTP to Hexa. Every failure becomes an ApiError whose
// `message` a person can read.

import type { Diagnostic } from './types'

export class ApiError extends Error {
  readonly status: number
  readonly detail: unknown
  readonly body: Record<string, unknown>

  constructor(status: number, message: string, detail: unknown, body: Record<string, unknown> = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.detail = detail
    this.body = body
  }

  /** marimo's diagnostics on a 422 for notebook text. */
  get diagnostics(): Diagnostic[] {
    const d = this.body.diagnostics
    if (!Array.isArray(d)) return []
    return d.map((x) => (typeof x === 'string' ? { message: x } : (x as Diagnostic)))
  }

  /** The limit a 409/429 names (`max_notebooks_per_user`, `max_processes`). */
  get limit(): string | null {
    if (typeof this.body.limit === 'string') return this.body.limit
    const text = typeof this.detail === 'string' ? this.detail : ''
    if (text.includes('max_notebooks_per_user')) return 'max_notebooks_per_user'
    if (text.includes('max_processes')) return 'max_processes'
    return null
  }

  get notAvailable(): boolean {
    return this.status === 404 || this.status === 405
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'The request was not accepted',
  401: 'You are signed out',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  422: 'Invalid input',
  429: 'The server is busy',
  500: 'The server failed',
  502: 'The notebook did not answer',
  503: 'Unavailable',
}

/** `detail` as a sentence: a string, or FastAPI's list of validation errors. */
export function describeDetail(detail: unknown, status: number): string {
  if (typeof detail === 'string' && detail.trim()) return detail
  if (Array.isArray(detail)) {
    const parts = detail.map((e) => {
      if (e && typeof e === 'object') {
        const { loc, msg } = e as { loc?: unknown[]; msg?: string }
        const where = Array.isArray(loc) ? loc.filter((p) => p !== 'body').join('.') : ''
        return where ? `${where}: ${msg ?? 'invalid'}` : (msg ?? 'invalid')
      }
      return String(e)
    })
    if (parts.length) return parts.join('; ')
  }
  if (detail && typeof detail === 'object') {
    const m = (detail as { message?: unknown }).message
    if (typeof m === 'string') return m
  }
  return `${STATUS_TEXT[status] ?? 'Request failed'} (HTTP ${status})`
}

type Listener = () => void
const unauthorizedListeners = new Set<Listener>()

/** Called whenever the server says the session is gone (401), so the app can show sign-in. */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn)
  return () => unauthorizedListeners.delete(fn)
}

export interface RequestOptions {
  signal?: AbortSignal
  /** Do not broadcast a 401 (the sign-in probe itself). */
  quiet401?: boolean
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: RequestOptions = {},
): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal: opts.signal,
  }
  if (body instanceof FormData) {
    init.body = body
  } else if (body !== undefined) {
    init.body = JSON.stringify(body)
    ;(init.headers as Record<string, string>)['Content-Type'] = 'application/json'
  }
  let res: Response
  try {
    res = await fetch(path, init)
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiError(0, 'Cannot reach the Hexa server. Check that it is running.', null)
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: unknown = undefined
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = text
    }
  }
  if (!res.ok) {
    const obj = data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {}
    const detail = 'detail' in obj ? obj.detail : typeof data === 'string' ? data.slice(0, 300) : null
    if (res.status === 401 && !opts.quiet401) unauthorizedListeners.forEach((fn) => fn())
    throw new ApiError(res.status, describeDetail(detail, res.status), detail, obj)
  }
  return data as T
}

export const http = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, body ?? {}, opts),
  patch: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PATCH', path, body, opts),
  del: <T>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, undefined, opts),
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message
  if (err instanceof Error) return err.message
  return String(err)
}
