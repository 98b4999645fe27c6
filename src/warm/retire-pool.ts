import type { Config } from '../config/schema.js';
import { teardownJob } from '../cleanup/teardown.js';
import { idleExpired, isWaiting, listPoolGuests, retirePoolGuests, type WaitingGuest } from './pool-guest.js';

/** Ends the waiting guests (of any saved state) `which` picks, each whole (teardownJob). Returns their ids. */
export async function retireWaiting(config: Config, which: (guest: WaitingGuest) => boolean): Promise<string[]> {
  const keys = new Set(
    listPoolGuests(config.stateDir)
      .filter(isWaiting)
      .filter(which)
      .map((g) => g.record.key),
  );
  const retired: string[] = [];
  for (const key of keys) {
    for (const g of await retirePoolGuests(config.stateDir, key, which)) {
      await teardownJob(config, g.id);
      retired.push(g.id);
    }
  }
  return retired;
}

/** Ends the waiting guests idle past their limit (the epilogue and reconcile call it: a pool nobody uses gives its memory back). */
export async function retireIdleGuests(config: Config): Promise<string[]> {
  const now = Date.now();
  return retireWaiting(config, (g) => idleExpired(g.record, now));
}
