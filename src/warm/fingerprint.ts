import { statSync } from 'node:fs';

/** Each file a saved state depends on, by path: device, inode, size and modification time ('absent' when missing). */
export type Fingerprint = Record<string, string>;

/** The fingerprint of `files` now: changed bytes, a replaced file or an upgraded program each change it. */
export function fingerprintOf(files: string[]): Fingerprint {
  const result: Fingerprint = {};
  for (const file of files) {
    try {
      const s = statSync(file, { bigint: true });
      result[file] = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      result[file] = 'absent';
    }
  }
  return result;
}

/** Why a state saved with `saved` is stale now (the first file that changed), or undefined. */
export function staleReason(saved: Fingerprint): string | undefined {
  const now = fingerprintOf(Object.keys(saved));
  for (const [file, identity] of Object.entries(saved)) {
    if (now[file] === identity) continue;
    return now[file] === 'absent' ? `${file} is gone` : `${file} changed since the state was saved`;
  }
  return undefined;
}
