import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { runTool } from '../exec/run-tool.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { readJsonRecord } from '../fsutil/read-json.js';
import { fingerprintOf } from '../warm/fingerprint.js';

const digestRecordSchema = z.object({ path: z.string(), fingerprint: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

/**
 * The sha256 of a base image (the site's file): what a saved layer records and must match.
 * Hashing a large image costs seconds, so the digest is kept in STATEDIR/base-digests (root's)
 * with the file's identity (device, inode, size, modification time); a changed file is hashed again.
 */
export async function baseDigest(stateDir: string, path: string): Promise<string> {
  const identity = fingerprintOf([path])[path]!;
  const file = join(stateDir, 'base-digests', `${createHash('sha256').update(path).digest('hex').slice(0, 32)}.json`);
  const known = readJsonRecord(file, digestRecordSchema);
  if (known && known.path === path && known.fingerprint === identity) return known.sha256;
  const sha256 = (await runTool(['sha256sum', '--', path])).stdout.slice(0, 64);
  // the file may have changed while it was read: only a digest of an unchanged file is kept
  if (fingerprintOf([path])[path] === identity) {
    ensureDir(join(stateDir, 'base-digests'), 0o755);
    writeFileAtomic(file, `${JSON.stringify({ path, fingerprint: identity, sha256 })}\n`, { mode: 0o644 });
  }
  return sha256;
}
