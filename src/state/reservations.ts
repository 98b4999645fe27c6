import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { jobPaths } from './job-paths.js';
import { readTrimmedText } from '../fsutil/read-text.js';
import { currentBootId } from './boot-id.js';

/**
 * Reserves one of `candidates` (in the order given) for a job: a reservation is a file named
 * after the candidate, holding the job id and the boot id (a line each), created with O_EXCL (atomic across processes), so two
 * prologues never get the same one. Reservations of jobs whose state directory is gone (a job
 * that ended without its epilogue) are taken over. `usable` can still turn a reserved candidate
 * down (e.g. a port another program listens on). Undefined when none is free.
 */
export async function reserveOne(stateDir: string, kind: string, jobId: string, candidates: string[], usable: (c: string) => Promise<boolean> = async () => true): Promise<string | undefined> {
  const dir = join(stateDir, kind);
  // private: which job holds which address or uid is nobody else's business (a watcher of a
  // world-readable list could race the next job for what it is about to take)
  ensureDir(stateDir, 0o755);
  ensureDir(dir, 0o700);
  markKind(stateDir, kind);
  for (const candidate of candidates) {
    const file = join(dir, candidate);
    if (!tryCreate(file, jobId)) {
      if (!isStale(stateDir, file)) continue;
      rmSync(file, { force: true });
      if (!tryCreate(file, jobId)) continue;
    }
    if (await usable(candidate)) return candidate;
    rmSync(file, { force: true });
  }
  return undefined;
}

/** Releases every reservation of `kind` a job holds (idempotent). */
export function releaseAll(stateDir: string, kind: string, jobId: string): void {
  const dir = join(stateDir, kind);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const file = join(dir, name);
    if (reservationOwner(file) === jobId) rmSync(file, { force: true });
  }
}

/** One reservation file, of any kind, as `vmbatch reconcile` sees it. */
export interface Reservation {
  kind: string;
  name: string;
  file: string;
  /** the file's whole text: it is removed only while it still says this */
  text: string;
  jobId: string;
  /** undefined for a reservation made before boot ids were recorded */
  bootId: string | undefined;
  mtimeMs: number;
}

// Reservation kinds made before the kind marker existed
const legacyKinds = ['addresses', 'ports'];
// STATEDIR/reservation-kinds/KIND: one empty file per kind reserveOne ever made
const kindsDir = 'reservation-kinds';

/** Every reservation below the state directory, of every kind reserveOne ever made there. */
export function listReservations(stateDir: string): Reservation[] {
  let kinds: string[] = [];
  try {
    kinds = readdirSync(join(stateDir, kindsDir));
  } catch {
    // no kind recorded yet
  }
  const found: Reservation[] = [];
  for (const kind of [...new Set([...legacyKinds, ...kinds])].sort()) {
    const dir = join(stateDir, kind);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = join(dir, name);
      try {
        const text = readFileSync(file, 'utf8');
        const [jobId = '', bootId] = text.split('\n').map((l) => l.trim());
        found.push({ kind, name, file, text, jobId, bootId: bootId || undefined, mtimeMs: statSync(file).mtimeMs });
      } catch {
        // released meanwhile
      }
    }
  }
  return found;
}

/** Removes a reservation if it still holds `text` (a prologue may have taken the name again meanwhile); true when removed. */
export function removeReservationIfUnchanged(reservation: Reservation): boolean {
  let text: string;
  try {
    text = readFileSync(reservation.file, 'utf8');
  } catch {
    return false;
  }
  if (text !== reservation.text) return false;
  rmSync(reservation.file, { force: true });
  return true;
}

// The job a reservation file names (its first line).
function reservationOwner(file: string): string | undefined {
  return readTrimmedText(file)?.split('\n')[0]?.trim();
}

// Records a reservation kind, so reconcile finds kinds it does not know by name.
function markKind(stateDir: string, kind: string): void {
  const file = join(stateDir, kindsDir, kind);
  if (existsSync(file)) return;
  ensureDir(join(stateDir, kindsDir), 0o755);
  closeSync(openSync(file, 'a', 0o644));
}

function tryCreate(file: string, jobId: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o600);
    writeSync(fd, `${jobId}\n${currentBootId()}\n`);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

// A reservation is stale when the job that holds it has no state directory any more (its
// prologue creates that directory before reserving, its epilogue removes both).
function isStale(stateDir: string, file: string): boolean {
  const owner = reservationOwner(file);
  return owner !== undefined && owner !== '' && !existsSync(jobPaths(stateDir, owner).dir);
}
