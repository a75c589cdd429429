// Typed calls of the notebook, auth and generation API.

import { ApiError, http } from './client'
import type {
  CellsReport,
  CloseResponse,
  CodeResponse,
  CreatedNotebook,
  GeneratedNotebook,
  Me,
  NotebookSummary,
  OpenResponse,
  TemplateInfo,
} from './types'

const enc = encodeURIComponent

export const auth = {
  me: () => http.get<Me>('/api/me', { quiet401: true }),
  login: (token: string) => http.post<void>('/api/auth/login', { token }, { quiet401: true }),
  logout: () => http.post<void>('/api/auth/logout'),
}

export const notebooks = {
  list: () => http.get<NotebookSummary[]>('/api/notebooks'),
  create: (name: string, template?: string) =>
    http.post<NotebookSummary>('/api/notebooks', template && template !== 'blank' ? { name, template } : { name }),
  rename: (id: string, name: string) => http.patch<NotebookSummary>(`/api/notebooks/${enc(id)}`, { name }),
  remove: (id: string) => http.del<void>(`/api/notebooks/${enc(id)}`),
  open: (nb: Pick<NotebookSummary, 'notebook_id' | 'path'>) =>
    http.post<OpenResponse>('/api/notebooks/open', { notebook_id: nb.notebook_id, notebook_path: nb.path }),
  close: (id: string) => http.post<CloseResponse>(`/api/notebooks/${enc(id)}/close`),
  restart: (id: string) => http.post<OpenResponse>(`/api/notebooks/${enc(id)}/restart`),
  code: (id: string) => http.get<CodeResponse>(`/api/notebooks/${enc(id)}/code`),
  state: (id: string) => http.get<CellsReport>(`/api/notebooks/${enc(id)}/state`),
}

export const BLANK_TEMPLATE: TemplateInfo = { id: 'blank', title: 'Blank', description: 'An empty notebook.' }

/** Templates, or just "blank" when the server has no template API yet. */
export async function listTemplates(): Promise<TemplateInfo[]> {
  const blank = BLANK_TEMPLATE
  try {
    const list = await http.get<TemplateInfo[]>('/api/templates')
    if (!Array.isArray(list) || list.length === 0) return [blank]
    return list.some((t) => t.id === 'blank') ? list : [blank, ...list]
  } catch (err) {
    if (err instanceof ApiError && err.notAvailable) return [blank]
    throw err
  }
}

export const generation = {
  importFile: (file: File, name?: string) => {
    const form = new FormData()
    form.append('file', file)
    if (name) form.append('name', name)
    return http.post<CreatedNotebook>('/api/notebooks/import', form)
  },
  fromPrompt: (prompt: string, name?: string) =>
    http.post<GeneratedNotebook>('/api/notebooks/generate', name ? { prompt, name } : { prompt }),
  fromMermaid: (mermaid: string, name?: string) =>
    http.post<GeneratedNotebook>('/api/notebooks/generate', name ? { mermaid, name } : { mermaid }),
}
