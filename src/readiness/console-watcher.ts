import { closeSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';

/** What the guest said on its console about this job. */
export type GuestSignal = { kind: 'ready'; detail: string } | { kind: 'failed'; detail: string };

/** A live watch of a console file: the first readiness signal, and the last lines seen. */
export interface ConsoleWatch {
  signal: Promise<GuestSignal>;
  tail(lines?: number): string;
  close(): void;
}

/**
 * Watches a console file (inotify through fs.watch, no polling) for this job's
 * `VMBATCH-READY <nonce>` or `VMBATCH-FAILED <nonce> <reason>` line. The nonce is per job, so a
 * line from an earlier boot or another job never counts.
 */
export function watchConsole(file: string, nonce: string): ConsoleWatch {
  const fd = openSync(file, 'r');
  let offset = 0;
  let partial = '';
  const recent: string[] = [];
  let panicLine: string | undefined;
  let watcher: FSWatcher | undefined;
  let settle!: (s: GuestSignal) => void;
  let done = false;
  const signal = new Promise<GuestSignal>((resolve) => (settle = resolve));
  const buffer = Buffer.alloc(64 * 1024);

  const readNew = () => {
    if (done) return;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, offset);
      if (n <= 0) break;
      offset += n;
      const lines = (partial + buffer.subarray(0, n).toString('latin1')).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const raw of lines) {
        const line = printable(raw);
        if (line) recent.push(line);
        if (!panicLine && /Kernel panic/.test(line)) panicLine = line;
        if (recent.length > 50) recent.shift();
        const m = /VMBATCH-(READY|FAILED) ([0-9a-f]+)(?: (.*))?$/.exec(line);
        if (m && m[2] === nonce) {
          done = true;
          settle({ kind: m[1] === 'READY' ? 'ready' : 'failed', detail: (m[3] ?? '').trim() });
          return;
        }
      }
    }
  };
  watcher = watch(file, { persistent: true }, readNew);
  readNew();
  return {
    signal,
    tail: (count = 10) => {
      const last = [...recent, printable(partial)].filter(Boolean).slice(-count);
      // a panic scrolls its cause away under a register dump: keep the panic line in view
      const panic = panicLine;
      return (panic && !last.includes(panic) ? [panic, '...', ...last] : last).join('\n');
    },
    close: () => {
      done = true;
      watcher?.close();
      watcher = undefined;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}

// Console output carries escape sequences and NULs; keep what a person can read.
function printable(line: string): string {
  return line
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/[^\x20-\x7e\t]/g, '')
    .trimEnd();
}
