import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import type { EntryPaths } from '../images/cache-entry.js';

// The state of a runtime environment's package on this cache (the Janitor's table 5.1, the
// subset vmbatch has): kept as rte.json beside the cache entry's meta.json. Only the holder of
// the entry's lock changes it; readers without the lock (list) may see any state.

/** The states a package can be in; INSTALLABLE is also what a missing rte.json means. */
export const rteStateSchema = z.enum(['INSTALLABLE', 'INSTALLING', 'INSTALLED', 'FAILED', 'REMOVAL_PENDING', 'REMOVING']);
/** A package's state. */
export type RteState = z.infer<typeof rteStateSchema>;

/** Who changes a state: a job (its HOST--JOBID), an admin, or the sweep. */
export const rteActorSchema = z.union([z.literal('admin'), z.literal('sweep'), z.string().regex(/^[^/\s]+--[^/\s]+$/, 'must be HOST--JOBID, admin or sweep')]);
/** Who changes a state. */
export type RteActor = z.infer<typeof rteActorSchema>;

/** One change of state, as the history keeps it. */
export const rteTransitionSchema = z.object({
  time: z.string().datetime(),
  from: rteStateSchema,
  to: rteStateSchema,
  by: rteActorSchema,
  reason: z.string().optional(),
});
/** One change of state. */
export type RteTransition = z.infer<typeof rteTransitionSchema>;

/** How many changes the history keeps (the latest). */
export const rteHistoryLength = 10;

/** What identifies the package of an entry: the MetaPackage's name, the instance's URI and its download URL. */
export const rteIdentitySchema = z.object({
  /** the MetaPackage name, e.g. APPS/BIO/WEKA-3.4.10 */
  name: z.string().min(1),
  /** the URI of the TarPackage or ImagePackage */
  instance: z.string().min(1),
  url: z.string().min(1),
  kind: z.enum(['tar', 'image']),
});
/** What identifies the package of an entry. */
export type RteIdentity = z.infer<typeof rteIdentitySchema>;

/** A guest's report that the package's install failed in a job: only the host's own facts (whose job, when). */
export const rteGuestFailureSchema = z.object({
  uid: z.number().int().min(0),
  by: rteActorSchema,
  time: z.string().datetime(),
});
/** A guest's report that the package's install failed. */
export type RteGuestFailure = z.infer<typeof rteGuestFailureSchema>;

/** How many guest failure reports (one per user) rte.json keeps (the latest). */
export const rteGuestFailuresKept = 32;

/** The content of rte.json. */
export const rteRecordSchema = rteIdentitySchema.extend({
  version: z.literal(1),
  state: rteStateSchema,
  /** when the current state was entered */
  since: z.string().datetime(),
  /** who set the current state (for INSTALLING: the job that fetches it) */
  by: rteActorSchema,
  /** why (FAILED: what failed) */
  reason: z.string().optional(),
  history: z.array(rteTransitionSchema).max(rteHistoryLength),
  /** the distinct users whose guests reported the install failing since it last worked (one entry per uid) */
  guestFailures: z.array(rteGuestFailureSchema).max(rteGuestFailuresKept).optional(),
});
/** The content of rte.json. */
export type RteRecord = z.infer<typeof rteRecordSchema>;

/** The kind of actor a transition is allowed for. */
export type RteActorKind = 'job' | 'admin' | 'sweep';

/**
 * Every change of state vmbatch makes, and who may make it: the one table the code consults.
 * A change not listed is refused (RTE_STATE_REFUSED). REMOVING has no way out: the entry is
 * deleted under the same lock that set it, so a REMOVING found by the next holder of the lock
 * is one whose remover died, which that holder finishes.
 */
export const rteTransitions: Readonly<Record<RteState, Partial<Record<RteState, readonly RteActorKind[]>>>> = {
  INSTALLABLE: {
    // a prologue starts to fetch it
    INSTALLING: ['job'],
    // the entry was swept while a prologue waited for its lock, and the prologue fetched it afresh
    INSTALLED: ['job'],
    // a refused download removes the half-made entry, rte.json with it: the job records FAILED anew
    FAILED: ['job'],
    // the remains of an admin's reset or of an install that died, unused
    REMOVING: ['sweep'],
  },
  INSTALLING: {
    // the mark of a prologue that died (lock free, data incomplete) is taken over
    INSTALLING: ['job'],
    INSTALLED: ['job'],
    FAILED: ['job'],
    // a transient failure: the next job tries again
    INSTALLABLE: ['job'],
    // an install that died, unused
    REMOVING: ['sweep'],
  },
  INSTALLED: {
    // its data went missing (removed by hand): it is fetched again
    INSTALLING: ['job'],
    // the package's control/install failed in the guest
    FAILED: ['job'],
    REMOVAL_PENDING: ['admin', 'sweep'],
    REMOVING: ['sweep'],
  },
  FAILED: {
    // the admin has had the package fixed: its data goes and the next job fetches it again
    INSTALLABLE: ['admin'],
  },
  REMOVAL_PENDING: {
    // the admin changed their mind
    INSTALLED: ['admin'],
    // a job still using it found its control/install failing
    FAILED: ['job'],
    REMOVING: ['sweep'],
  },
  REMOVING: {
    // a sweep that died mid-removal: the next sweep finishes it ...
    REMOVING: ['sweep'],
    // ... or the next prologue, which then fetches it afresh
    INSTALLABLE: ['job'],
  },
};

// Why an admin cannot change a state that has no admin transitions (the refusal's reason).
const noAdminChange: Partial<Record<RteState, string>> = {
  INSTALLABLE: 'nothing of it is installed on this node',
  INSTALLING: 'a job is installing it; it becomes INSTALLED or FAILED',
  REMOVING: 'the sweep is removing it',
};

/** The kind of an actor. */
export function actorKind(by: RteActor): RteActorKind {
  return by === 'admin' || by === 'sweep' ? by : 'job';
}

/** Why `by` may not change `from` to `to`; undefined when the table allows it. */
export function refusalReason(from: RteState, to: RteState, by: RteActor): string | undefined {
  const kind = actorKind(by);
  if (rteTransitions[from][to]?.includes(kind)) return undefined;
  if (from === to) return `it is already ${to}`;
  if (kind !== 'admin') return `the ${kind === 'sweep' ? 'sweep' : `job ${by}`} may not make this change`;
  const targets = (Object.keys(rteTransitions[from]) as RteState[]).filter((t) => rteTransitions[from][t]?.includes('admin'));
  if (targets.length) return `an admin may change ${from} only to ${targets.join(' or ')}`;
  return noAdminChange[from] ?? `an admin cannot change ${from}`;
}

/** The file of an entry's package state. */
export function rteFile(paths: EntryPaths): string {
  return join(paths.dir, 'rte.json');
}

/** The entry's package record; undefined when there is none (INSTALLABLE) or it is damaged, which counts as none. */
export function readRteState(paths: EntryPaths): RteRecord | undefined {
  let text: string;
  try {
    text = readFileSync(rteFile(paths), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return rteRecordSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Writes the entry's package record atomically (by the holder of the entry's lock). */
export function writeRteState(paths: EntryPaths, record: RteRecord): void {
  writeFileAtomic(rteFile(paths), JSON.stringify(rteRecordSchema.parse(record), null, 2) + '\n', { mode: 0o644 });
}

/**
 * Changes the package's state to `to` as the table allows, recording who and why; called with
 * the entry's lock held. `identity` names the package when the entry has no record yet.
 * Refused changes throw RTE_STATE_REFUSED and change nothing.
 */
export function transition(paths: EntryPaths, to: RteState, by: RteActor, reason?: string, identity?: RteIdentity): RteRecord {
  const current = readRteState(paths);
  const from = current?.state ?? 'INSTALLABLE';
  const base = current ?? identity;
  if (!base) throw new Error(`transition of ${paths.dir} to ${to}: the entry has no rte.json and no identity was given`);
  const refused = refusalReason(from, to, by);
  if (refused) throw new VmbatchError('RTE_STATE_REFUSED', { name: base.name, from, to, reason: refused });
  const time = new Date().toISOString();
  const step: RteTransition = { time, from, to, by, ...(reason === undefined ? {} : { reason }) };
  const record: RteRecord = {
    version: 1,
    name: base.name,
    instance: base.instance,
    url: base.url,
    kind: base.kind,
    state: to,
    since: time,
    by,
    ...(reason === undefined ? {} : { reason }),
    history: [...(current?.history ?? []), step].slice(-rteHistoryLength),
    // guests' reports outlive a change of state (they are why it became FAILED), not a fresh start
    ...(current?.guestFailures?.length && to !== 'INSTALLABLE' ? { guestFailures: current.guestFailures } : {}),
  };
  writeRteState(paths, record);
  return record;
}
