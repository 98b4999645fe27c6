import { watch } from 'node:fs';

/** Resolves once `predicate` holds, checked at every file system event below `dir` (inotify, no polling). */
export function waitForFs(dir: string, predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watchTree(dir, check);
    // Node 20's recursive watch on Linux scans each new directory; one removed before the scan
    // (a sweep deleting an entry it just saw made) is reported as an ENOENT 'error', which would
    // crash the run without a listener. The rest of the tree is still watched: it is an event
    // like any other, and the removal may be what we wait for.
    watcher.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') check();
      else fail(error);
    });
    const timer = setTimeout(() => fail(new Error(`waitForFs: condition not met below ${dir} within ${timeoutMs} ms`)), timeoutMs);
    function check() {
      if (predicate()) finish();
    }
    function finish() {
      clearTimeout(timer);
      watcher.close();
      resolve();
    }
    function fail(error: Error) {
      clearTimeout(timer);
      watcher.close();
      reject(error);
    }
    check();
  });
}

// Node 18 (Debian 12's, which the package must run on: the suite runs there too) has no
// recursive watch on Linux: there a 50 ms check stands in for the events.
function watchTree(dir: string, check: () => void): { close(): void; on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): void } {
  try {
    return watch(dir, { recursive: true }, check);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM') throw error;
    const timer = setInterval(check, 50);
    return { close: () => clearInterval(timer), on: () => undefined };
  }
}
