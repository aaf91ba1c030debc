/**
 * One harness for every child process the tests and benchmarks start (`node --import tsx <script>`): a
 * request/reply channel over Node IPC, events from the child, its last output kept for error messages, and
 * a kill that waits for the exit. Tests use it for multi-process claims (stampedes, the bus), the benchmarks
 * for their measured processes.
 *
 * Protocol, parent → child: `{ type: 'call', seq, command }`. Child → parent: `{ type: 'ready', data }` once,
 * `{ type: 'reply', seq, result }` or `{ type: 'reply', seq, error }`, and `{ type: 'event', name, data }`.
 * The child side is `answerParent` below.
 */
import { type ChildProcess, spawn } from 'node:child_process'

type ToParent =
  | { type: 'ready'; data?: unknown }
  | { type: 'reply'; seq: number; result?: unknown; error?: string }
  | { type: 'event'; name: string; data?: unknown }

type ToChild = { type: 'call'; seq: number; command: unknown }

export interface ChildOptions {
  /** Extra environment, on top of this process's. */
  env?: Record<string, string>
  cwd?: string
  /** Names the child in errors (`worker 3`, `instance 7`…). */
  label?: string
  /** Characters of the child's stdout and stderr kept for error messages. Default 20,000. */
  keepOutput?: number
  /** Node options before the script (e.g. `--max-semi-space-size=32`). */
  nodeArgs?: readonly string[]
}

/** The parent's handle on a child process. */
export class ChildProcessHarness {
  readonly label: string
  /** Resolves with the child's `ready` data; rejects if it exits first. */
  readonly ready: Promise<unknown>
  /** Resolves when the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  readonly #listeners = new Map<string, Set<(data: Record<string, unknown>) => void>>()
  #seq = 0
  #output = ''

  constructor(script: string, options: ChildOptions = {}) {
    this.label = options.label ?? script
    const keep = options.keepOutput ?? 20_000
    this.#child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    const record = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-keep)
    }
    this.#child.stdout?.on('data', record)
    this.#child.stderr?.on('data', record)
    let markReady!: (data: unknown) => void
    let failReady!: (error: Error) => void
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve
      failReady = reject
    })
    this.ready.catch(() => {})
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': IPC messages sent just before exiting may be read after 'exit'.
      this.#child.once('close', (code, signal) => {
        const error = new Error(`${this.label} exited (${code ?? signal}) ${this.#describeOutput()}`)
        failReady(error)
        for (const waiter of this.#pending.values()) waiter.reject(error)
        this.#pending.clear()
        resolve({ code, signal })
      })
    })
    this.#child.on('message', (message: ToParent) => {
      if (message.type === 'ready') markReady(message.data)
      else if (message.type === 'reply') {
        const waiter = this.#pending.get(message.seq)
        this.#pending.delete(message.seq)
        if (message.error !== undefined) waiter?.reject(new Error(`${this.label}: ${message.error}`))
        else waiter?.resolve(message.result)
      } else if (message.type === 'event') {
        const data = { ...(message.data as Record<string, unknown> | undefined), event: message.name }
        for (const listener of [...(this.#listeners.get(message.name) ?? [])]) listener(data)
      }
    })
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  /** The child's recent stdout and stderr. */
  get output(): string {
    return this.#output
  }

  /** Sends a command; resolves with the child's result, rejects with its error (or when it exits). */
  call<T = unknown>(command: unknown): Promise<T> {
    const seq = ++this.#seq
    return new Promise<T>((resolve, reject) => {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
        reject(new Error(`${this.label} has exited ${this.#describeOutput()}`))
        return
      }
      this.#pending.set(seq, { resolve: resolve as (value: unknown) => void, reject })
      this.#child.send({ type: 'call', seq, command } satisfies ToChild)
    })
  }

  /** Calls `listener` for every event of this name; returns a function that stops it. */
  on(name: string, listener: (data: Record<string, unknown>) => void): () => void {
    let listeners = this.#listeners.get(name)
    if (listeners === undefined) {
      listeners = new Set()
      this.#listeners.set(name, listeners)
    }
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  /** Resolves with the next event of this name. */
  nextEvent(name: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      const stop = this.on(name, (data) => {
        stop()
        resolve(data)
      })
    })
  }

  /** Sends a signal (default SIGKILL) unless the child has exited, and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill(signal)
    await this.exited
  }

  /** Stops and resumes the child (SIGSTOP / SIGCONT), for fault tests. */
  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal)
  }

  #describeOutput(): string {
    return this.#output === '' ? '' : `; its last output:\n${this.#output}`
  }
}

/**
 * The child's side: answers each command with `handle`'s result (or its error's message), in the order the
 * commands finish. Returns `ready(data)`, to call once set up, and `emit(name, data)` for events.
 */
export function answerParent(handle: (command: never) => Promise<unknown> | unknown): {
  ready(data?: unknown): void
  emit(name: string, data?: unknown): void
  /** Resolves once every message sent so far has left (before exiting). */
  flushed(): Promise<void>
} {
  if (process.send === undefined) throw new Error('answerParent: not started with an IPC channel')
  let sending = 0
  let drained: (() => void)[] = []
  const send = (message: ToParent) => {
    sending++
    process.send!(message, undefined, {}, () => {
      sending--
      if (sending > 0) return
      for (const resolve of drained) resolve()
      drained = []
    })
  }
  process.on('message', (message: ToChild) => {
    if (message?.type !== 'call') return
    Promise.resolve()
      .then(() => handle(message.command as never))
      .then(
        (result) => send({ type: 'reply', seq: message.seq, result }),
        (error: unknown) =>
          send({
            type: 'reply',
            seq: message.seq,
            error: error instanceof Error ? error.message : String(error),
          }),
      )
  })
  // The parent's disconnect (it exited or killed the channel) ends the child.
  process.on('disconnect', () => process.exit(0))
  return {
    ready: (data) => send({ type: 'ready', data }),
    emit: (name, data) => send({ type: 'event', name, data }),
    flushed: () =>
      sending === 0 ? Promise.resolve() : new Promise<void>((resolve) => drained.push(resolve)),
  }
}
