// Starts a real `hexa serve` for the browser tests, in a temporary data dir with its own
// HOME/XDG dirs, on a free port, with a known token; returns the teardown that stops it
// (SIGTERM, which stops its marimo children) and checks that no marimo survived.
//
// Environment:
//   HEXA_BIN            the hexa executable (default: <repo>/.venv/bin/hexa)
//   HEXA_E2E_KEEP=1     keep the temporary dir (server log, notebooks) after the run
// Exported to the tests: HEXA_E2E_URL, HEXA_E2E_TOKEN, HEXA_E2E_DIR, HEXA_E2E_LIMIT.

import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..')
export const NOTEBOOK_LIMIT = 3

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Processes whose command line mentions `dir` (marimo children name their notebook file). */
function processesUnder(dir: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
      if (cmd.includes(dir)) found.push({ pid: Number(entry), cmd })
    } catch {
      /* gone */
    }
  }
  return found
}

function logTail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

export default async function globalSetup() {
  const hexa = process.env.HEXA_BIN ?? path.join(repo, '.venv', 'bin', 'hexa')
  if (!fs.existsSync(hexa)) throw new Error(`hexa not found at ${hexa}; run \`make install-dev\` or set HEXA_BIN`)
  const index = path.join(repo, 'src', 'hexa', 'web', 'index.html')
  if (!fs.existsSync(index)) throw new Error(`the web UI is not built (${index} is missing); run \`npm run build\``)

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hexa-e2e-'))
  const home = path.join(dir, 'home')
  for (const d of ['data', 'home', 'home/.config', 'home/.cache', 'home/.local/share', 'home/.local/state'])
    fs.mkdirSync(path.join(dir, d), { recursive: true })
  const port = await freePort()
  const token = `e2e-${randomBytes(12).toString('hex')}`
  const logFile = path.join(dir, 'hexa-serve.log')
  const log = fs.openSync(logFile, 'a')

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HEXA_DATA_DIR: path.join(dir, 'data'),
    HEXA_TOKEN: token,
    HEXA_HOST: '127.0.0.1',
    HEXA_PORT: String(port),
    HEXA_MODEL: 'builtin',
    HEXA_MAX_NOTEBOOKS_PER_USER: String(NOTEBOOK_LIMIT),
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
  }
  // Its own process group, so the teardown can signal it and nothing else.
  const child: ChildProcess = spawn(hexa, ['serve'], { env, cwd: dir, detached: true, stdio: ['ignore', log, log] })
  const pid = child.pid!
  let exited: number | string | null = null
  child.on('exit', (code, signal) => (exited = code ?? signal))

  let stopped = false
  const killNow = () => {
    // Last resort when the runner itself is interrupted.
    if (stopped) return
    try {
      process.kill(-pid, 'SIGTERM')
    } catch {
      /* already gone */
    }
  }
  process.once('exit', killNow)

  const stop = async () => {
    if (stopped) return
    stopped = true
    process.removeListener('exit', killNow)
    if (alive(pid)) {
      try {
        process.kill(-pid, 'SIGTERM')
      } catch {
        /* gone */
      }
      const deadline = Date.now() + 30_000
      while (alive(pid) && Date.now() < deadline) await sleep(100)
      if (alive(pid)) {
        console.warn('[e2e] hexa serve ignored SIGTERM for 30 s; killing it')
        try {
          process.kill(-pid, 'SIGKILL')
        } catch {
          /* gone */
        }
      }
    }
    // marimo runs in its own sessions; hexa serve must have stopped them. Check.
    await sleep(300)
    const left = processesUnder(dir)
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    fs.closeSync(log)
    if (process.env.HEXA_E2E_KEEP) console.log(`[e2e] kept ${dir}`)
    else fs.rmSync(dir, { recursive: true, force: true })
    if (left.length) {
      throw new Error(
        `[e2e] ${left.length} process(es) outlived hexa serve and were killed:\n` +
          left.map((p) => `  ${p.pid} ${p.cmd}`).join('\n'),
      )
    }
  }

  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 90_000
  for (;;) {
    if (exited !== null) {
      await stop().catch(() => {})
      throw new Error(`hexa serve exited (${exited}) before it was ready:\n${logTail(logFile)}`)
    }
    try {
      const res = await fetch(`${url}/health`)
      if (res.ok) break
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      await stop().catch(() => {})
      throw new Error(`hexa serve did not answer /health within 90 s:\n${logTail(logFile)}`)
    }
    await sleep(200)
  }

  process.env.HEXA_E2E_URL = url
  process.env.HEXA_E2E_TOKEN = token
  process.env.HEXA_E2E_DIR = dir
  process.env.HEXA_E2E_LIMIT = String(NOTEBOOK_LIMIT)
  process.env.HEXA_E2E_LOG = logFile
  console.log(`[e2e] hexa serve at ${url} (data in ${dir})`)
  return stop
}
