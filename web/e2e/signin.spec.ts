import { expect, server, snap, test } from './fixtures'

test('the sign-in link signs in and drops the token from the address bar', async ({ page }, testInfo) => {
  await page.goto(`/?token=${server.token}`)
  await expect(page.getByRole('navigation', { name: 'Notebook browser' })).toBeVisible()
  expect(page.url()).toBe(`${server.url}/`)
  await expect(page.getByLabel('Signed in as')).toContainText('default')
  await expect(page.getByLabel('Model in use')).toHaveText('builtin')
  await snap(page, testInfo, 'signed-in')

  // The cookie keeps the session across a reload; signing out ends it.
  await page.reload()
  await expect(page.getByRole('navigation', { name: 'Notebook browser' })).toBeVisible()
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible()
  await page.reload()
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible()
})

test('without a valid token the sign-in page asks for one', async ({ page }, testInfo) => {
  await page.goto('/?token=not-a-real-token')
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible()
  await expect(page.getByRole('alert')).toContainText('token this server does not know')
  expect(page.url()).toBe(`${server.url}/`)

  const field = page.getByLabel('Access token')
  await field.fill('still-wrong')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('alert')).toHaveText('That token is not valid.')
  await snap(page, testInfo, 'sign-in-refused')

  await field.fill(server.token)
  await field.press('Enter')
  await expect(page.getByRole('navigation', { name: 'Notebook browser' })).toBeVisible()
})
