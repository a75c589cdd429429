// One WebSocket per open notebook: it reconnects after a drop, and the UI says when it is
// offline. The drop is made with Playwright's WebSocket routing, between the page and the
// real server.

import type { WebSocketRoute } from '@playwright/test'
import { expect, openFromList, snap, test, uniqueName } from './fixtures'

test('the live connection shows when it is offline and comes back by itself', async ({ app: page, api }, testInfo) => {
  let refuse = false
  const open: WebSocketRoute[] = []
  const perNotebook = new Map<string, number>()
  await page.routeWebSocket(/\/api\/ws\//, (ws) => {
    const id = new URL(ws.url()).pathname.split('/').pop()!
    perNotebook.set(id, (perNotebook.get(id) ?? 0) + 1)
    if (refuse) {
      void ws.close({ code: 1011, reason: 'refused by the test' })
      return
    }
    ws.connectToServer()
    open.push(ws)
  })

  const a = await api.create(uniqueName('Live A'))
  const b = await api.create(uniqueName('Live B'))
  await page.reload()
  await openFromList(page, a.name)
  await openFromList(page, b.name)
  const indicator = page.getByRole('status', { name: /^Live updates:/ })
  await expect(indicator).toHaveText('Live')
  // One socket per open notebook.
  expect(perNotebook.get(a.notebook_id)).toBe(1)
  expect(perNotebook.get(b.notebook_id)).toBe(1)

  // The network drops and stays down: offline, in the side panel and on the tab.
  refuse = true
  for (const ws of open.splice(0)) await ws.close({ code: 1006, reason: 'dropped by the test' })
  await expect(indicator).toHaveText('Offline')
  await expect(page.getByRole('region', { name: `Chat about ${b.name}` })).toContainText('reconnecting')
  await expect(page.getByRole('tab', { name: b.name, exact: true })).toHaveAttribute('title', /offline/)
  await snap(page, testInfo, 'offline')

  // It comes back without a reload.
  refuse = false
  await expect(indicator).toHaveText('Live', { timeout: 30_000 })
  await expect(page.getByRole('tab', { name: b.name, exact: true })).not.toHaveAttribute('title', /offline/)
  // Each socket backs off on its own: the background tab's comes back on its own clock.
  await expect(page.getByRole('tab', { name: a.name, exact: true })).not.toHaveAttribute('title', /offline/, {
    timeout: 30_000,
  })
  expect(perNotebook.get(a.notebook_id)!).toBeGreaterThan(1)

  // Closing a tab closes its socket and opens no other.
  const before = perNotebook.get(a.notebook_id)!
  await page.getByRole('button', { name: `Close ${a.name}` }).click()
  await page.waitForTimeout(1500)
  expect(perNotebook.get(a.notebook_id)).toBe(before)
})
