import { invalidOption } from './errors.js'

/** Where loadcache reports state changes and faults. Compatible with `console`, pino and winston. */
export interface Logger {
  debug?(message: string): void
  info?(message: string): void
  warn(message: string): void
  error(message: string): void
}

/** A logger that prints nothing: the default, so a library never writes to stdout on its own. */
export const silentLogger: Logger = { warn() {}, error() {} }

/** Validates a user's logger and wraps its methods: bound to it, and unable to throw into a load. */
export function resolveLogger(logger: unknown): Logger {
  if (logger === undefined) return silentLogger
  const l = logger as Partial<Logger>
  if (typeof l !== 'object' || l === null || typeof l.warn !== 'function' || typeof l.error !== 'function') {
    throw invalidOption('logger', logger, 'an object with warn() and error() methods (console works)')
  }
  // Bound (pino and console rely on `this`) and guarded: a logger that throws must not fail a load.
  const guard =
    (method: ((message: string) => void) | undefined) =>
    (message: string): void => {
      try {
        method?.call(l, message)
      } catch {
        // Nowhere left to report it.
      }
    }
  return {
    debug: l.debug ? guard(l.debug) : undefined,
    info: l.info ? guard(l.info) : undefined,
    warn: guard(l.warn),
    error: guard(l.error),
  }
}
