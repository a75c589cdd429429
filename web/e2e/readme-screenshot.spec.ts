// The README's picture of the main screen: two notebooks in tabs, the agent beside the
// active one with a tool-call chip. Runs only when HEXA_README_SCREENSHOT names the file
// (`npm run screenshot` writes ../docs/screenshot.png).

import path from 'node:path'
import type { Frame } from '@playwright/test'
import { expect, openFromList, test } from './fixtures'

const target = process.env.HEXA_README_SCREENSHOT

async function dismissMarimoBanner(frame: Frame) {
  const close = frame.locator('[data-testid="remove-banner-button"]')
  if (await close.count()) await close.first().click()
}

test('README screenshot of the main screen @readme', async ({ app: page, api }) => {
  test.skip(!target, 'set HEXA_README_SCREENSHOT to write the README screenshot')
  await page.setViewportSize({ width: 1440, height: 900 })
  // `npm run screenshot` starts its own server, so these names are free.
  await api.create('Forecast', 'plotting')
  await api.create('Sales by region', 'data-analysis')
  await page.reload()

  await dismissMarimoBanner(await openFromList(page, 'Forecast'))
  const frame = await openFromList(page, 'Sales by region')
  await dismissMarimoBanner(frame)

  const chat = page.getByRole('region', { name: 'Chat about Sales by region' })
  const composer = chat.getByLabel('Message the agent')
  await composer.fill(
    'add a cell: ```python\nby_quarter = df.pivot_table(\n    "sales", index="region", columns="quarter"\n)\nby_quarter\n```',
  )
  await composer.press('Enter')
  const log = chat.getByRole('log', { name: 'Conversation' })
  await expect(log).toHaveAttribute('aria-busy', 'false', { timeout: 60_000 })
  await expect(log.getByRole('listitem', { name: 'add_cell: done' })).toBeVisible()
  await composer.fill('show errors')
  await composer.press('Enter')
  await expect(log).toHaveAttribute('aria-busy', 'false', { timeout: 60_000 })

  const cell = frame.locator('.marimo-cell', { hasText: 'by_quarter = df.pivot_table' })
  await expect(cell).toBeVisible()
  await cell.scrollIntoViewIfNeeded()
  await frame.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  await composer.blur()
  await page.mouse.move(700, 880)
  await page.waitForTimeout(800)
  await page.screenshot({ path: path.resolve(target!) })
})
