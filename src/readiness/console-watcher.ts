import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { printableLine } from '../log/printable-tail.js';
import { basename, dirname } from 'node:path';

/** What the guest said on its console about this job. */
export type GuestSignal = { kind: 'ready'; detail: string } | { kind: 'failed'; detail: string };

/** A live watch of a console file: the first readiness signal, and the last lines seen. */
export interface ConsoleWatch {
  signal: Promise<GuestSignal>;
  tail(lines?: number): string;
  close(): void;
}

/** How much of the guest's console output the watcher keeps: every bound the guest cannot push. */
export const consoleLimits = {
  /** characters of a line that is still being read (a line without newline keeps its end, where a marker would be) */
  lineChars: 4096,
  /** characters of each line kept for the console tail, and of the detail of a ready or failed line */
  keptChars: 200,
  /** characters of the whole console tail put into an error */
  tailChars: 4096,
  /** bytes read at one go before the event loop gets its turn (a flooding guest must not starve the timeout) */
  sliceBytes: 1024 * 1024,
};

/**
 * Watches a console file (inotify through fs.watch, no polling) for this job's
 * `VMBATCH-READY <nonce>` or `VMBATCH-FAILED <nonce> <reason>` line. The nonce is per job, so a
 * line from an earlier boot or another job never counts. Whatever the guest prints, the memory
 * kept is bounded (consoleLimits), and the file is followed across virtlogd's rotation (at its
 * max_size the file is renamed to NAME.0 and a new NAME is created): the rest of the old file
 * is read, then the new one from its start.
 */
export function watchConsole(file: string, nonce: string): ConsoleWatch {
  let fd = openSync(file, 'r');
  let inode = fstatSync(fd).ino;
  let offset = 0;
  let partial = '';
  const recent: string[] = [];
  let panicLine: string | undefined;
  let fileWatcher: FSWatcher | undefined;
  let dirWatcher: FSWatcher | undefined;
  let settle!: (s: GuestSignal) => void;
  let done = false;
  let resumePending = false;
  const signal = new Promise<GuestSignal>((resolve) => (settle = resolve));
  const buffer = Buffer.alloc(64 * 1024);

  const onLine = (raw: string): boolean => {
    const line = printableLine(raw);
    if (line) recent.push(clip(line, consoleLimits.keptChars));
    if (recent.length > 50) recent.shift();
    if (!panicLine && /Kernel panic/.test(line)) panicLine = clip(line, consoleLimits.keptChars);
    const m = /VMBATCH-(READY|FAILED) ([0-9a-f]+)(?: (.*))?$/.exec(line);
    if (!m || m[2] !== nonce) return false;
    done = true;
    settle({ kind: m[1] === 'READY' ? 'ready' : 'failed', detail: clip((m[3] ?? '').trim(), consoleLimits.keptChars) });
    return true;
  };

  // Reads what was added to the current file; after `slice` bytes the rest waits for the next
  // turn of the event loop, unless `all` (the old file of a rotation: it no longer grows).
  const readNew = (all = false) => {
    let read = 0;
    while (!done) {
      if (!all && read >= consoleLimits.sliceBytes) {
        if (!resumePending) {
          resumePending = true;
          setImmediate(() => {
            resumePending = false;
            readNew();
          });
        }
        return;
      }
      const n = readSync(fd, buffer, 0, buffer.length, offset);
      if (n <= 0) return;
      offset += n;
      read += n;
      const lines = (partial + buffer.subarray(0, n).toString('latin1')).split(/\r?\n/);
      // an endless line keeps its end: a readiness line printed after it on the same line counts
      partial = (lines.pop() ?? '').slice(-consoleLimits.lineChars);
      for (const raw of lines) if (onLine(raw.length > consoleLimits.lineChars ? raw.slice(-consoleLimits.lineChars) : raw)) return;
    }
  };

  // virtlogd renamed the file away (and creates a new one): finish the old file, then follow the
  // new one from its start. Until the new file exists, its directory is watched for it.
  const followRotation = () => {
    if (done) return;
    let current: number | undefined;
    try {
      current = statSync(file).ino;
    } catch {
      current = undefined;
    }
    if (current === inode) return;
    if (current === undefined) {
      dirWatcher ??= watch(dirname(file), { persistent: true }, (_event, name) => {
        if (name === basename(file)) onEvent();
      });
      return;
    }
    readNew(true);
    let next: number;
    try {
      next = openSync(file, 'r');
    } catch {
      // removed again between the stat and the open: the directory watch sees it come back
      dirWatcher ??= watch(dirname(file), { persistent: true }, (_event, name) => {
        if (name === basename(file)) onEvent();
      });
      return;
    }
    closeSync(fd);
    fileWatcher?.close();
    fd = next;
    inode = fstatSync(fd).ino;
    offset = 0;
    dirWatcher?.close();
    dirWatcher = undefined;
    fileWatcher = watch(file, { persistent: true }, onEvent);
    readNew();
  };

  function onEvent(): void {
    if (done) return;
    readNew();
    followRotation();
  }

  fileWatcher = watch(file, { persistent: true }, onEvent);
  onEvent();
  return {
    signal,
    tail: (count = 10) => {
      const last = [...recent, clip(printableLine(partial), consoleLimits.keptChars)].filter(Boolean).slice(-count);
      // a panic scrolls its cause away under a register dump: keep the panic line in view
      const panic = panicLine;
      const text = (panic && !last.includes(panic) ? [panic, '...', ...last] : last).join('\n');
      return text.length > consoleLimits.tailChars ? '...' + text.slice(-consoleLimits.tailChars) : text;
    },
    close: () => {
      done = true;
      fileWatcher?.close();
      fileWatcher = undefined;
      dirWatcher?.close();
      dirWatcher = undefined;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}

// At most `max` characters of a line, marked when cut.
function clip(line: string, max: number): string {
  return line.length > max ? line.slice(0, max) + '...' : line;
}
