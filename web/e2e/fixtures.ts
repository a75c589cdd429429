// Shared fixtures: the server started by global-setup, an API client that speaks to it with
// the token, a signed-in page, and helpers to reach marimo's editor inside a tab.

import { test as base, expect, type APIRequestContext, type Frame, type Page, type TestInfo } from '@playwright/test'
import fs from 'node:fs'
import path from 'node:path'

export interface NotebookJson {
  notebook_id: string
  name: string
  path: string
  url: string
  status: string
  reason: string | null
}

export const server = {
  get url() {
    return process.env.HEXA_E2E_URL!
  },
  get token() {
    return process.env.HEXA_E2E_TOKEN!
  },
  get limit() {
    return Number(process.env.HEXA_E2E_LIMIT ?? '5')
  },
  /** What hexa serve has logged so far (global-setup writes it there). */
  log() {
    return fs.readFileSync(path.join(process.env.HEXA_E2E_DIR!, 'hexa-serve.log'), 'utf8')
  },
  /** Where the default user's notebook files live. */
  notebookFile(nb: Pick<NotebookJson, 'path'>) {
    return path.join(process.env.HEXA_E2E_DIR!, 'data', 'notebooks', 'default', nb.path)
  },
}

export class Api {
  readonly ctx: APIRequestContext
  constructor(ctx: APIRequestContext) {
    this.ctx = ctx
  }

  async json<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, data?: unknown): Promise<T> {
    const res = await this.ctx.fetch(url, { method, data })
    if (!res.ok()) throw new Error(`${method} ${url} -> ${res.status()} ${await res.text()}`)
    return (res.status() === 204 ? undefined : await res.json()) as T
  }

  list() {
    return this.json<NotebookJson[]>('GET', '/api/notebooks')
  }

  create(name: string, template?: string) {
    return this.json<NotebookJson>('POST', '/api/notebooks', template ? { name, template } : { name })
  }

  /** Stop every running notebook, so each test starts under the limit. */
  async closeAll() {
    for (const nb of await this.list()) {
      if (nb.status !== 'stopped') await this.ctx.post(`/api/notebooks/${nb.notebook_id}/close`)
    }
  }

  /** Does the server have this route? (404 with FastAPI's bare "Not Found" means no.) */
  async has(method: 'GET' | 'POST', url: string, data?: unknown): Promise<boolean> {
    const res = await this.ctx.fetch(url, { method, data })
    if (res.status() !== 404 && res.status() !== 405) return true
    const body = await res.json().catch(() => ({}))
    return body.detail !== 'Not Found' && res.status() !== 405
  }

  async cells(notebookId: string) {
    const state = await this.json<{ cells: { cell_id: string; preview: string }[] }>(
      'GET',
      `/api/notebooks/${notebookId}/state`,
    )
    return state.cells
  }
}

type Fixtures = {
  api: Api
  /** A page signed in through the `/?token=` link, showing the workspace. */
  app: Page
}

export const test = base.extend<Fixtures>({
  baseURL: async ({}, use) => {
    await use(server.url)
  },
  api: async ({ playwright }, use) => {
    const ctx = await playwright.request.newContext({
      baseURL: server.url,
      extraHTTPHeaders: { Authorization: `Bearer ${server.token}` },
    })
    const api = new Api(ctx)
    await api.closeAll()
    await use(api)
    await api.closeAll().catch(() => {})
    await ctx.dispose()
  },
  app: async ({ page, api }, use) => {
    void api // ensures a clean slate first
    await page.goto(`/?token=${server.token}`)
    await expect(page.getByRole('navigation', { name: 'Notebook browser' })).toBeVisible()
    await use(page)
  },
})

export { expect }

/** Save a named screenshot into the test's artifacts. */
export async function snap(page: Page, testInfo: TestInfo, name: string) {
  const file = testInfo.outputPath(`${name}.png`)
  await page.screenshot({ path: file })
  await testInfo.attach(name, { path: file, contentType: 'image/png' })
}

/** The notebook browser on the left. */
export function rail(page: Page) {
  return page.getByRole('navigation', { name: 'Notebook browser' })
}

/** Open a notebook from the list and wait for marimo's editor in its tab. */
export async function openFromList(page: Page, name: string): Promise<Frame> {
  await page.getByRole('list', { name: 'Notebooks' }).getByRole('button', { name, exact: true }).click()
  const tab = page.getByRole('tab', { name, exact: true })
  await expect(tab).toHaveAttribute('aria-selected', 'true')
  return editorFrame(page, name)
}

/** marimo's editor of the tab `name`, once at least one cell is on screen. */
export async function editorFrame(page: Page, name: string): Promise<Frame> {
  const iframe = page.locator(`iframe[title="Notebook ${name}"]`)
  await expect(iframe).toBeVisible({ timeout: 90_000 })
  const frame = (await (await iframe.elementHandle())!.contentFrame())!
  await expect(frame.locator('.marimo-cell').first()).toBeVisible({ timeout: 60_000 })
  return frame
}

/** Write a notebook's file from outside, as its owner would (the sandbox runs the user's
 *  marimo under a uid of its own, which must be able to save over it). */
export function writeNotebookFile(nb: Pick<NotebookJson, 'path'>, text: string) {
  const file = server.notebookFile(nb)
  fs.writeFileSync(file, text)
  const folder = fs.statSync(path.dirname(file))
  if (process.getuid?.() === 0) fs.chownSync(file, folder.uid, folder.gid)
}

export function readNotebookFile(nb: Pick<NotebookJson, 'path'>) {
  return fs.readFileSync(server.notebookFile(nb), 'utf8')
}

/** A unique name per test run, so tests never collide in the shared server. */
export function uniqueName(base: string) {
  return `${base} ${Math.random().toString(36).slice(2, 6)}`
}
