// pino JSON logs; every process makes one root logger here and hands out children per request/video/cameo.
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config';

export type { Logger };

/** `toStderr`: for command-line tools whose stdout is their answer (a table, JSON), so the logs do not mix into it. */
export function createLogger(options: { level: LogLevel; name: string; toStderr?: boolean }): Logger {
  const settings = {
    name: options.name,
    level: options.level,
    base: { pid: process.pid, role: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.toStderr ? pino(settings, pino.destination(2)) : pino(settings);
}
