import { watch } from 'node:fs';

/** Resolves once `predicate` holds, checked at every file system event below `dir` (inotify, no polling). */
export function waitForFs(dir: string, predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir, { recursive: true }, () => {
      if (predicate()) finish();
    });
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`waitForFs: condition not met below ${dir} within ${timeoutMs} ms`));
    }, timeoutMs);
    function finish() {
      clearTimeout(timer);
      watcher.close();
      resolve();
    }
    if (predicate()) finish();
  });
}
