import { watch } from 'node:fs';

/** Resolves once `predicate` holds, checked at every file system event below `dir` (inotify, no polling). */
export function waitForFs(dir: string, predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir, { recursive: true }, check);
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
