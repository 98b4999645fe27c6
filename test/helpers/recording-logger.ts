import type { LogFields, Logger } from '../../src/log/logger.js';

/** One record a recording logger kept. */
export interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
  fields: LogFields | undefined;
}

/** A logger that keeps what it is told, in order, for assertions on what a step logged. */
export function recordingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const keep = (level: LogLine['level']) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, fields });
  return { lines, log: { info: keep('info'), warn: keep('warn'), error: keep('error') } };
}
