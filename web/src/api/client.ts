// The one place that speaks HTTP to Hexa. Every failure becomes an ApiError whose
// `message` a person can read.

import type { Diagnostic, ErrorOut, LimitErrorOut, UnprocessableOut } from './types'

/** What an error reply may hold (ErrorOut, LimitErrorOut, UnprocessableOut of the schema);
 * `{}` when the body was not JSON (a proxy's page). */
export type ErrorBody = Partial<{
  detail: ErrorOut['detail'] | UnprocessableOut['detail']
  limit: LimitErrorOut['limit']
  diagnostics: UnprocessableOut['diagnostics']
}>

export class ApiError extends Error {
  readonly status: number
  /** The reply's `detail`; the start of the text when the reply was not JSON. */
  readonly detail: ErrorBody['detail'] | null
  /** The error reply as it came, for what it says beyond `detail`. */
  readonly body: ErrorBody

  constructor(status: number, message: string, detail: ErrorBody['detail'] | null, body: ErrorBody = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.detail = detail
    this.body = body
  }

  /** marimo's diagnostics on a 422 for notebook text. */
  get diagnostics(): Diagnostic[] {
    // An open object in the schema: see Diagnostic.
    return (this.body.diagnostics ?? []) as unknown as Diagnostic[]
  }

  /** The setting whose cap a 409/429 hit (`max_notebooks_per_user`, `max_processes`). */
  get limit(): string | null {
    return this.body.limit ?? null
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

/** `detail` as a sentence: a string, or the invalid fields of a 422 (ValidationIssue). */
export function describeDetail(detail: ErrorBody['detail'] | null, status: number): string {
  if (typeof detail === 'string' && detail.trim()) return detail
  if (Array.isArray(detail) && detail.length)
    return detail
      .map(({ loc, msg }) => {
        const where = loc.filter((p) => p !== 'body').join('.')
        return where ? `${where}: ${msg}` : msg
      })
      .join('; ')
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
    const body: ErrorBody = data && typeof data === 'object' && !Array.isArray(data) ? (data as ErrorBody) : {}
    const detail = body.detail ?? (typeof data === 'string' ? data.slice(0, 300) : null)
    if (res.status === 401 && !opts.quiet401) unauthorizedListeners.forEach((fn) => fn())
    throw new ApiError(res.status, describeDetail(detail, res.status), detail, body)
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
