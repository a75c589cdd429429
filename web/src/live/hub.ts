// One WebSocket per open notebook (`WS /api/ws/{id}`), reconnecting after a drop with
// backoff. The UI reads each connection's state to show when a notebook is offline.

import { liveUrl, parseEvent } from '../api/agent'
import type { NotebookEvent } from '../api/types'

export type LiveState = 'connecting' | 'online' | 'offline'

type EventFn = (event: NotebookEvent) => void

class Connection {
  state: LiveState = 'connecting'
  private ws: WebSocket | null = null
  private attempts = 0
  private timer: number | undefined
  private disposed = false
  readonly notebookId: string
  private readonly onState: () => void
  private readonly onEvent: (e: NotebookEvent) => void

  constructor(notebookId: string, onState: () => void, onEvent: (e: NotebookEvent) => void) {
    this.notebookId = notebookId
    this.onState = onState
    this.onEvent = onEvent
    this.connect()
  }

  private setState(s: LiveState) {
    if (this.state !== s) {
      this.state = s
      this.onState()
    }
  }

  private connect() {
    if (this.disposed) return
    window.clearTimeout(this.timer)
    let ws: WebSocket
    try {
      ws = new WebSocket(liveUrl(this.notebookId))
    } catch {
      this.scheduleReconnect()
      return
    }
    this.ws = ws
    ws.onopen = () => {
      this.attempts = 0
      this.setState('online')
    }
    ws.onmessage = (msg) => {
      if (typeof msg.data !== 'string') return
      let raw: unknown
      try {
        raw = JSON.parse(msg.data)
      } catch {
        return
      }
      const event = parseEvent(raw)
      if (event) this.onEvent(event)
    }
    ws.onclose = () => {
      if (this.ws !== ws) return
      this.ws = null
      if (!this.disposed) this.scheduleReconnect()
    }
    ws.onerror = () => {
      /* onclose follows and schedules the retry */
    }
  }

  private scheduleReconnect() {
    this.setState('offline')
    const delay = Math.min(10_000, 500 * 2 ** this.attempts) * (0.8 + Math.random() * 0.4)
    this.attempts += 1
    this.timer = window.setTimeout(() => this.connect(), delay)
  }

  /** Try now (the browser came back online, or the person asked). */
  retryNow() {
    if (this.state !== 'online' && !this.disposed) {
      this.attempts = 0
      this.ws?.close()
      this.ws = null
      this.connect()
    }
  }

  /** Close the socket as a network drop would (used by tests). */
  drop() {
    this.ws?.close(4000, 'dropped')
  }

  dispose() {
    this.disposed = true
    window.clearTimeout(this.timer)
    const ws = this.ws
    this.ws = null
    ws?.close(1000, 'tab closed')
  }
}

export class LiveHub {
  private conns = new Map<string, Connection>()
  private listeners = new Map<string, Set<EventFn>>()
  private anyListeners = new Set<(notebookId: string, event: NotebookEvent) => void>()
  private stateListeners = new Set<() => void>()
  private snapshot: Record<string, LiveState> = {}

  constructor() {
    window.addEventListener('online', this.retryAll)
  }

  /** Keep exactly one connection per id in `ids`. */
  sync(ids: string[]) {
    const want = new Set(ids)
    for (const [id, conn] of this.conns) {
      if (!want.has(id)) {
        conn.dispose()
        this.conns.delete(id)
      }
    }
    for (const id of want) {
      if (!this.conns.has(id)) {
        this.conns.set(
          id,
          new Connection(
            id,
            () => this.emitState(),
            (e) => {
              this.listeners.get(id)?.forEach((fn) => fn(e))
              this.anyListeners.forEach((fn) => fn(id, e))
            },
          ),
        )
      }
    }
    this.emitState()
  }

  subscribe(notebookId: string, fn: EventFn): () => void {
    let set = this.listeners.get(notebookId)
    if (!set) this.listeners.set(notebookId, (set = new Set()))
    set.add(fn)
    return () => set.delete(fn)
  }

  /** Every open notebook's events, for what is kept per user rather than per notebook. */
  subscribeAll(fn: (notebookId: string, event: NotebookEvent) => void): () => void {
    this.anyListeners.add(fn)
    return () => this.anyListeners.delete(fn)
  }

  onState = (fn: () => void): (() => void) => {
    this.stateListeners.add(fn)
    return () => this.stateListeners.delete(fn)
  }

  states = (): Record<string, LiveState> => this.snapshot

  private emitState() {
    const next: Record<string, LiveState> = {}
    for (const [id, c] of this.conns) next[id] = c.state
    this.snapshot = next
    this.stateListeners.forEach((fn) => fn())
  }

  retryAll = () => this.conns.forEach((c) => c.retryNow())
  dropAll = () => this.conns.forEach((c) => c.drop())

  dispose() {
    window.removeEventListener('online', this.retryAll)
    this.conns.forEach((c) => c.dispose())
    this.conns.clear()
  }
}
