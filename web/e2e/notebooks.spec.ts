import {
  rail,
  editorFrame,
  expect,
  openFromList,
  readNotebookFile,
  server,
  snap,
  test,
  uniqueName,
  writeNotebookFile,
} from './fixtures'

test('create a notebook, rename it, and delete it after confirming', async ({ app: page }, testInfo) => {
  const name = uniqueName('Created')
  await rail(page).getByRole('button', { name: 'New notebook' }).click()
  const dialog = page.getByRole('dialog', { name: 'New notebook' })
  await expect(dialog.getByRole('radio', { name: /Blank/ })).toBeChecked()
  await dialog.getByLabel('Name').fill(name)
  await dialog.getByRole('button', { name: 'Create and open' }).click()
  await expect(dialog).toBeHidden()

  await expect(page.getByRole('tab', { name, exact: true })).toHaveAttribute('aria-selected', 'true')
  await editorFrame(page, name)
  const list = page.getByRole('list', { name: 'Notebooks' })
  await expect(list.getByRole('button', { name, exact: true })).toBeVisible()
  await expect(list.getByRole('button', { name, exact: true })).toHaveAccessibleDescription(/Running/)

  const renamed = `${name} renamed`
  await list.getByRole('button', { name: `Rename ${name}` }).click()
  const field = page.getByLabel(`New name for ${name}`)
  await field.fill(renamed)
  await field.press('Enter')
  await expect(list.getByRole('button', { name: renamed, exact: true })).toBeVisible()
  await expect(page.getByRole('tab', { name: renamed, exact: true })).toBeVisible()
  await snap(page, testInfo, 'renamed')

  // Cancelling keeps it; confirming deletes it and closes its tab.
  await list.getByRole('button', { name: `Delete ${renamed}` }).click()
  let confirm = page.getByRole('dialog', { name: 'Delete notebook' })
  await expect(confirm).toContainText(renamed)
  await confirm.getByRole('button', { name: 'Cancel' }).click()
  await expect(confirm).toBeHidden()
  await expect(list.getByRole('button', { name: renamed, exact: true })).toBeVisible()

  await list.getByRole('button', { name: `Delete ${renamed}` }).click()
  confirm = page.getByRole('dialog', { name: 'Delete notebook' })
  await snap(page, testInfo, 'delete-confirmation')
  await confirm.getByRole('button', { name: 'Delete' }).click()
  await expect(list.getByRole('button', { name: renamed, exact: true })).toHaveCount(0)
  await expect(page.getByRole('tab', { name: renamed, exact: true })).toHaveCount(0)
})

test('open two notebooks and switch between them; each editor keeps its state', async ({ app: page, api }, testInfo) => {
  const first = await api.create(uniqueName('First'))
  const second = await api.create(uniqueName('Second'))
  await page.reload()

  const frameA = await openFromList(page, first.name)
  await frameA.evaluate(() => ((window as unknown as { kept: string }).kept = 'still here'))

  const frameB = await openFromList(page, second.name)
  await expect(page.locator(`iframe[title="Notebook ${first.name}"]`)).toBeHidden()
  await expect(page.getByRole('tab', { name: first.name, exact: true })).toHaveAttribute('aria-selected', 'false')
  await expect(page.getByLabel('Open notebooks', { exact: false }).first()).toBeVisible()
  await expect(page.getByText(`2 of ${server.limit} open`, { exact: true })).toBeVisible()
  expect(frameB.url()).toContain(`/nb/${second.notebook_id}/`)
  await snap(page, testInfo, 'second-tab')

  // Back to the first tab: the same editor document, not a reload.
  await page.getByRole('tab', { name: first.name, exact: true }).click()
  await expect(page.locator(`iframe[title="Notebook ${first.name}"]`)).toBeVisible()
  await expect(page.locator(`iframe[title="Notebook ${second.name}"]`)).toBeHidden()
  expect(await frameA.evaluate(() => (window as unknown as { kept?: string }).kept)).toBe('still here')

  // Keyboard: arrow keys move between tabs.
  await page.getByRole('tab', { name: first.name, exact: true }).press('ArrowRight')
  await expect(page.getByRole('tab', { name: second.name, exact: true })).toHaveAttribute('aria-selected', 'true')

  // Closing a tab stops the notebook.
  await page.getByRole('button', { name: `Close ${second.name}` }).click()
  await expect(page.getByRole('tab', { name: second.name, exact: true })).toHaveCount(0)
  await expect.poll(async () => (await api.list()).find((n) => n.notebook_id === second.notebook_id)?.status).toBe('stopped')
})

test('after a reload the shown tab starts first and the others one at a time', async ({ app: page, api }) => {
  const made = [await api.create(uniqueName('Tab A')), await api.create(uniqueName('Tab B')), await api.create(uniqueName('Tab C'))]
  await page.reload()
  for (const nb of made) await openFromList(page, nb.name)
  await page.getByRole('tab', { name: made[1].name, exact: true }).click()
  // Stopped meanwhile (say, culled while idle): the reload must start all three again.
  for (const nb of made) await api.json('POST', `/api/notebooks/${nb.notebook_id}/close`)
  const events: { id: string; what: 'sent' | 'done' }[] = []
  const idOf = (body: string | null) => (JSON.parse(body ?? '{}') as { notebook_id?: string }).notebook_id ?? ''
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/notebooks/open')) events.push({ id: idOf(r.postData()), what: 'sent' })
  })
  page.on('requestfinished', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/notebooks/open')) events.push({ id: idOf(r.postData()), what: 'done' })
  })
  await page.reload()
  await editorFrame(page, made[1].name)
  for (const nb of made) await expect(page.locator(`iframe[title="Notebook ${nb.name}"]`)).toHaveCount(1, { timeout: 60_000 })
  const sent = events.filter((e) => e.what === 'sent').map((e) => e.id)
  expect(sent[0]).toBe(made[1].notebook_id)
  expect(new Set(sent)).toEqual(new Set(made.map((n) => n.notebook_id)))
  // One at a time: each open is sent after the one before it finished.
  let running = 0
  for (const e of events) {
    running += e.what === 'sent' ? 1 : -1
    expect(running).toBeLessThanOrEqual(1)
  }
})

test('reaching the limit of open notebooks says so', async ({ app: page, api }, testInfo) => {
  const made = []
  for (let i = 0; i <= server.limit; i++) made.push(await api.create(uniqueName(`Limit ${i + 1}`)))
  await page.reload()
  for (const nb of made.slice(0, server.limit)) await openFromList(page, nb.name)
  await expect(page.getByText(`${server.limit} of ${server.limit} open`).or(page.getByText(`${server.limit} open`))).toBeVisible()

  const extra = made[server.limit]
  await page.getByRole('list', { name: 'Notebooks' }).getByRole('button', { name: extra.name, exact: true }).click()
  const alert = page.getByRole('alert').filter({ hasText: 'limit' })
  await expect(alert).toContainText(`limit of ${server.limit} open notebooks`)
  await expect(alert).toContainText('Close a tab')
  await expect(page.getByRole('tab', { name: extra.name, exact: true })).toHaveCount(0)
  await snap(page, testInfo, 'limit-reached')

  // After closing one, it opens.
  await page.getByRole('button', { name: `Close ${made[0].name}` }).click()
  await openFromList(page, extra.name)
  await expect(alert).toHaveCount(0)
})

test('a notebook that cannot start shows the reason and a restart button', async ({ app: page, api }, testInfo) => {
  const nb = await api.create(uniqueName('Broken'))
  const good = readNotebookFile(nb)
  // marimo refuses a file without `app = marimo.App()`.
  writeNotebookFile(nb, 'import marimo\n\nprint("no app here")\n')
  await page.reload()
  await page.getByRole('list', { name: 'Notebooks' }).getByRole('button', { name: nb.name, exact: true }).click()
  const panel = page.getByRole('tabpanel', { name: nb.name })
  await expect(panel.getByRole('alert')).toContainText('could not run')
  await expect(panel.locator('.reason')).not.toBeEmpty()
  await snap(page, testInfo, 'failed-tab')

  writeNotebookFile(nb, good)
  await panel.getByRole('button', { name: 'Restart' }).click()
  await editorFrame(page, nb.name)
})

test('errors from the API appear as readable messages', async ({ app: page, api }) => {
  const nb = await api.create(uniqueName('Gone'))
  await page.reload()
  const list = rail(page).getByRole('list', { name: 'Notebooks' })
  await expect(list.getByRole('button', { name: nb.name, exact: true })).toBeVisible()
  // Someone deletes it elsewhere; this page still shows it.
  await api.json('DELETE', `/api/notebooks/${nb.notebook_id}`)
  await list.getByRole('button', { name: `Rename ${nb.name}` }).click()
  const field = page.getByLabel(`New name for ${nb.name}`)
  await field.fill(`${nb.name} again`)
  await field.press('Enter')
  const toast = page.getByRole('alert').filter({ hasText: `Could not rename “${nb.name}”` })
  await expect(toast).toContainText(`no notebook ${nb.notebook_id}`)
  await toast.getByRole('button', { name: 'Dismiss' }).click()
  await expect(toast).toBeHidden()
})
