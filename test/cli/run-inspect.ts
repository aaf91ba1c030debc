import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'

/* `loadcache inspect` as a user runs it: a process of its own (tsx on the source). */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const command = ['--import', 'tsx', join(repo, 'src/cli/main.ts'), 'inspect']

export interface InspectRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `loadcache inspect <args>` to its end (killed after 60 s: a hang fails the test, not the suite). */
export function inspect(...args: string[]): Promise<InspectRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [...command, ...args],
      { cwd: repo, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code) : 0, stdout, stderr }),
    )
  })
}

/** Starts `loadcache inspect <args>`, for a test that watches its output while it runs. */
export function spawnInspect(...args: string[]): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [...command, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
}
