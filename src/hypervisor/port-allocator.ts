import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { jobPaths, portsDir } from '../state/job-paths.js';

/**
 * Reserves a loopback port for a job's SSH forward. A reservation is a file created with
 * O_EXCL (atomic across processes), so two prologues never get the same port; the port must
 * also be free to bind. Reservations of jobs whose state is gone are taken over.
 */
export async function reservePort(stateDir: string, jobId: string, range: { first: number; last: number }): Promise<number> {
  const dir = portsDir(stateDir);
  ensureDir(dir, 0o755);
  const size = range.last - range.first + 1;
  const offset = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = range.first + ((offset + i) % size);
    const file = join(dir, String(port));
    if (!tryCreate(file, jobId)) {
      if (!isStale(stateDir, file)) continue;
      rmSync(file, { force: true });
      if (!tryCreate(file, jobId)) continue;
    }
    if (await canBind(port)) return port;
    rmSync(file, { force: true });
  }
  throw new VmbatchError('PORTS_EXHAUSTED', range);
}

/** Releases every port reserved by a job (idempotent). */
export function releasePorts(stateDir: string, jobId: string): void {
  const dir = portsDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const file = join(dir, name);
    if (readOwner(file) === jobId) rmSync(file, { force: true });
  }
}

function tryCreate(file: string, jobId: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o644);
    writeSync(fd, jobId);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function readOwner(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

// A reservation is stale when the job that holds it has no state directory any more (its
// prologue creates that directory before reserving, its epilogue removes both).
function isStale(stateDir: string, file: string): boolean {
  const owner = readOwner(file);
  return owner !== undefined && owner !== '' && !existsSync(jobPaths(stateDir, owner).dir);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
