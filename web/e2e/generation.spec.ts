import { editorFrame, rail, expect, snap, test, uniqueName } from './fixtures'

const MARIMO_PY = `import marimo

app = marimo.App()


@app.cell
def _():
    imported_value = 20 + 22
    imported_value
    return (imported_value,)


if __name__ == "__main__":
    app.run()
`

const IPYNB = JSON.stringify({
  cells: [
    { cell_type: 'markdown', metadata: {}, source: ['# From Jupyter'] },
    { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['answer = 40 + 2\n', 'answer'] },
  ],
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  nbformat: 4,
  nbformat_minor: 5,
})

test('import a marimo .py and a Jupyter .ipynb', async ({ app: page }, testInfo) => {
  for (const [file, text, code] of [
    ['imported.py', MARIMO_PY, 'imported_value = 20 + 22'],
    ['from_jupyter.ipynb', IPYNB, 'answer = 40 + 2'],
  ] as const) {
    const name = uniqueName(file.split('.')[0])
    await rail(page).getByRole('button', { name: 'Import', exact: true }).click()
    const dialog = page.getByRole('dialog', { name: 'Import a notebook' })
    await dialog.getByLabel('Notebook file (.py or .ipynb)').setInputFiles({
      name: file,
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(text),
    })
    await dialog.getByLabel('Name (optional)').fill(name)
    await dialog.getByRole('button', { name: 'Import and open' }).click()
    await expect(dialog).toBeHidden()
    const frame = await editorFrame(page, name)
    await expect(frame.locator('.marimo-cell', { hasText: code })).toBeVisible()
    await snap(page, testInfo, `imported-${file}`)
  }
})

test('an invalid notebook file is refused with readable diagnostics', async ({ app: page }, testInfo) => {
  await rail(page).getByRole('button', { name: 'Import', exact: true }).click()
  const dialog = page.getByRole('dialog', { name: 'Import a notebook' })
  await dialog.getByLabel('Notebook file (.py or .ipynb)').setInputFiles({
    name: 'broken.py',
    mimeType: 'text/x-python',
    buffer: Buffer.from('import marimo\napp = marimo.App()\n\n@app.cell\ndef _(:\n    x =\n'),
  })
  await dialog.getByRole('button', { name: 'Import and open' }).click()
  const alert = dialog.getByRole('alert')
  await expect(alert).toContainText(/not a valid marimo notebook|syntax/i)
  await snap(page, testInfo, 'import-refused')
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await expect(dialog).toBeHidden()
})

test('generate from a Mermaid diagram, with a live preview of the chart', async ({ app: page }, testInfo) => {
  await rail(page).getByRole('button', { name: 'Generate', exact: true }).click()
  const dialog = page.getByRole('dialog', { name: 'Generate a notebook' })
  await dialog.getByRole('radio', { name: 'From a Mermaid diagram' }).check()
  const source = dialog.getByLabel('Mermaid flowchart')
  const preview = dialog.getByRole('figure', { name: 'Chart preview' })

  await source.fill('flowchart TD\n    A[Load data] --> B[Clean it]\n    B --> C{Enough rows?}\n    C -->|yes| D[Plot]')
  await expect(preview.locator('svg')).toBeVisible()
  await expect(preview.locator('svg')).toContainText('Load data')
  await expect(preview.locator('svg')).toContainText('Enough rows?')

  // A malformed chart says so in the preview.
  await source.fill('flowchart TD\n    A[Load data --> B')
  await expect(preview.getByRole('alert')).toBeVisible()

  // A cycle is refused by the server with a readable reason.
  await source.fill('flowchart TD\n    A[Start] --> B[Step]\n    B --> A')
  await expect(preview.locator('svg')).toBeVisible()
  await dialog.getByRole('button', { name: 'Generate and open' }).click()
  await expect(dialog.getByRole('alert').filter({ hasText: 'cycle' })).toBeVisible()
  await snap(page, testInfo, 'mermaid-cycle-refused')

  const name = uniqueName('From Mermaid')
  await source.fill('flowchart LR\n    A[Load data] --> B[Clean it] --> C[Summarise]')
  await expect(preview.locator('svg')).toContainText('Summarise')
  await dialog.getByLabel('Name (optional)').fill(name)
  await snap(page, testInfo, 'mermaid-preview')
  await dialog.getByRole('button', { name: 'Generate and open' }).click()
  await expect(dialog).toBeHidden({ timeout: 60_000 })
  const frame = await editorFrame(page, name)
  await expect(frame.locator('.marimo-cell').nth(2)).toBeVisible()
  await snap(page, testInfo, 'generated-from-mermaid')
})

test('generate from a prompt', async ({ app: page }) => {
  const name = uniqueName('From prompt')
  await rail(page).getByRole('button', { name: 'Generate', exact: true }).click()
  const dialog = page.getByRole('dialog', { name: 'Generate a notebook' })
  await dialog.getByLabel('Prompt', { exact: true }).fill('Plot a sine wave with matplotlib')
  await dialog.getByLabel('Name (optional)').fill(name)
  await dialog.getByRole('button', { name: 'Generate and open' }).click()
  await expect(dialog).toBeHidden({ timeout: 60_000 })
  await editorFrame(page, name)
})
