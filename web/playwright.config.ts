// Browser tests of the web UI against a real `hexa serve` (started by e2e/global-setup.ts
// in a temporary data dir) with the builtin model and real marimo, in Debian's Chromium.
// Never downloads a browser: set PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 when installing.

import { defineConfig, devices } from '@playwright/test'

const chromium = process.env.HEXA_E2E_CHROMIUM ?? '/usr/bin/chromium'

export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  globalSetup: './e2e/global-setup.ts',
  // One server, one user, shared notebook limits: run the scenarios one after another.
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  retries: process.env.CI ? 1 : 0,
  forbidOnly: !!process.env.CI,
  // Screenshots, traces of failures and per-step pictures land in test-results/; CI also
  // gets an HTML report.
  reporter: process.env.CI ? [['list'], ['html', { open: 'never', outputFolder: './playwright-report' }]] : 'list',
  use: {
    ...devices['Desktop Chrome'],
    viewport: { width: 1440, height: 900 },
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    screenshot: 'on',
    trace: 'retain-on-failure',
    video: 'off',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium' }],
})
