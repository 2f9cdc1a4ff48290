/**
 * The logger of `vxtun static` and `vxtun agent`: pino JSON lines on stdout, level from --log-level or
 * VXTUN_LOG_LEVEL. `vxtun registry` builds its own.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level = process.env.VXTUN_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
