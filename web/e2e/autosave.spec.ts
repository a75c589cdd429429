// What a person types and runs in marimo's editor reaches the notebook's file on its own.
// Real parts: Chromium, hexa serve, its proxy, marimo in Hexa's sandbox, the file on disk.
// The e2e data dir lies under /tmp, where marimo's editor would never autosave a file;
// the sandbox shows the notebook at /home/<user>/notebooks, so it does.

import type { Frame, Page, Route } from '@playwright/test'
import { expect, openFromList, readNotebookFile, server, test, uniqueName } from './fixtures'

/** Type `name = 6 * 7` and `name` at the end of the first cell, run it, and see 42. */
async function typeAndRun(page: Page, frame: Frame, name: string) {
  const cell = frame.locator('.marimo-cell').filter({ hasText: 'import marimo as mo' })
  await cell.locator('.cm-content').click()
  await page.keyboard.press('Control+End')
  await page.keyboard.type(`\n${name} = 6 * 7\n${name}`)
  await page.keyboard.press('Control+Enter')
  await expect(cell).toContainText('42', { timeout: 30_000 })
}

test('typed and run in the editor, saved to the file without Ctrl+S', async ({ app: page, api }) => {
  const nb = await api.create(uniqueName('Autosave'))
  await page.reload()
  const frame = await openFromList(page, nb.name)

  await typeAndRun(page, frame, 'typed_by_hand')

  await expect
    .poll(() => readNotebookFile(nb), { timeout: 30_000, message: 'the file gets the typed code' })
    .toContain('typed_by_hand = 6 * 7')
})

test("a person's next notebook opens in their own marimo and its editor saves its own file", async ({ app: page, api }) => {
  const first = await api.create(uniqueName('Before'))
  const next = await api.create(uniqueName('Session'))
  await page.reload()
  const start = server.log().length
  await openFromList(page, first.name)
  const frame = await openFromList(page, next.name)
  // One marimo per person (the default): the second notebook is a session in the first's.
  const log = server.log().slice(start)
  expect(log).not.toContain(`started marimo ${first.notebook_id}:`)
  expect(log).not.toContain(`started marimo ${next.notebook_id}:`)
  expect(log.split('started the shared marimo of default').length - 1).toBeLessThanOrEqual(1)

  await typeAndRun(page, frame, 'in_a_session')
  await expect
    .poll(() => readNotebookFile(next), { timeout: 30_000, message: "the session saves the notebook's own file" })
    .toContain('in_a_session = 6 * 7')
  expect(readNotebookFile(first)).not.toContain('in_a_session')
})

test("an editor's save built before the API's change does not take it back", async ({ app: page, api }) => {
  const nb = await api.create(uniqueName('Mended'))
  await page.reload()
  const frame = await openFromList(page, nb.name)
  // The editor's next save is held in the browser, as a slow network would: it was built
  // before the change below, and reaches Hexa after the editor heard of it.
  let held: Route | undefined
  const saveHeld = new Promise<void>((resolve) => {
    void page.route('**/api/kernel/save', async (route) => {
      if (held !== undefined) return route.continue()
      held = route
      resolve()
    })
  })
  await typeAndRun(page, frame, 'typed_first')
  await saveHeld

  const added = await api.json<{ cell_ids: string[] }>('POST', `/api/notebooks/${nb.notebook_id}/cells/execute`, {
    cell_ids: ['added-meanwhile'],
    codes: ['added_meanwhile = 1'],
  })
  await expect(frame.locator('.marimo-cell').filter({ hasText: 'added_meanwhile = 1' })).toHaveCount(1)
  const saved = page.waitForResponse('**/api/kernel/save')
  await held!.continue()
  expect((await saved).ok()).toBe(true)
  // Right after the stale save: marimo still has the cell (without the mend it was gone
  // until the editor's next save).
  expect((await api.cells(nb.notebook_id)).map((c) => c.cell_id)).toContain(added.cell_ids[0])
  await expect
    .poll(() => readNotebookFile(nb), { timeout: 30_000, message: 'the file has both' })
    .toMatch(/typed_first = 6 \* 7[\s\S]*added_meanwhile = 1/)
  await page.unroute('**/api/kernel/save')
})
