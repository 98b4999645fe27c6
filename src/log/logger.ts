import { appendFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureDir } from '../fsutil/ensure-dir.js';

/** One structured log record: a message and flat fields. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Writes quiet structured lines (`key=value`) to a log file; hooks must not chatter on stderr. */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** A logger appending to `file` (or discarding when file is undefined), tagged with the hook. */
export function createLogger(file: string | undefined, tag: string): Logger {
  const write = (level: string, msg: string, fields: LogFields = {}) => {
    if (!file) return;
    const parts = [new Date().toISOString(), `level=${level}`, `hook=${tag}`, `msg=${JSON.stringify(msg)}`];
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) parts.push(`${k}=${formatValue(v)}`);
    try {
      ensureDir(dirname(file), 0o755);
      appendFileSync(file, parts.join(' ') + '\n', { mode: 0o640 });
    } catch {
      // logging must never fail a job
    }
  };
  return { info: (m, f) => write('info', m, f), warn: (m, f) => write('warn', m, f), error: (m, f) => write('error', m, f) };
}

function formatValue(v: string | number | boolean): string {
  const s = String(v);
  return /^[\w.:/@+-]+$/.test(s) ? s : JSON.stringify(s);
}
