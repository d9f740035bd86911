// pino JSON logs; every process makes one root logger here and hands out children per request/video/cameo.
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config';

export type { Logger };

export function createLogger(options: { level: LogLevel; name: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    base: { pid: process.pid, role: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
