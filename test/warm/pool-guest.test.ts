// The pool's records as plain files: which guests wait, who takes one (never two jobs the same
// guest, also when they race), what retiring takes out, and when a waiting guest is idle too long.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  claimPoolGuest,
  idleExpired,
  isPoolGuestId,
  listPoolGuests,
  poolGuestFile,
  poolGuestId,
  poolGuestsOf,
  retirePoolGuests,
  writePoolGuestRecord,
  type PoolGuestRecord,
} from '../../src/warm/pool-guest.js';
import { fakeKey, warmScratch, type WarmScratch } from '../helpers/warm-state.js';

let scratch: WarmScratch;
test.before.each(() => {
  scratch = warmScratch();
});
test.after.each(() => scratch.cleanup());

const record = (key: string, over: Partial<PoolGuestRecord> = {}): PoolGuestRecord => ({
  version: 1,
  key,
  template: '/etc/vmbatch/domains/pool.xml',
  waitingSince: new Date().toISOString(),
  idleSeconds: 600,
  cdromTarget: 'hdc',
  uid: 64001,
  gid: 64000,
  ...over,
});

// A pool guest's directory with its record (none: being made).
function guest(id: string, rec: PoolGuestRecord | undefined): void {
  const dir = join(scratch.stateDir, 'jobs', id);
  mkdirSync(dir, { recursive: true });
  if (rec) writePoolGuestRecord(dir, rec);
}

test('pool guest ids: pool-KEY12-N, never a batch job id', () => {
  assert.is(poolGuestId(fakeKey('a'), 3), 'pool-aaaaaaaaaaaa-3');
  assert.ok(isPoolGuestId('pool-aaaaaaaaaaaa-3'));
  for (const id of ['101.vm', 'pool-aaaa-1', 'pool-aaaaaaaaaaaa-', 'pool-aaaaaaaaaaaa-1/..', 'warm-aaaaaaaaaaaa']) assert.not.ok(isPoolGuestId(id), id);
});

test("a job takes the oldest waiting guest of its state; a guest being made, another state's or an idle one is not taken", async () => {
  const key = fakeKey('a');
  guest(poolGuestId(key, 1), record(key, { waitingSince: new Date(Date.now() - 5_000).toISOString() }));
  guest(poolGuestId(key, 2), record(key, { waitingSince: new Date(Date.now() - 60_000).toISOString() }));
  guest(poolGuestId(key, 3), undefined);
  guest(poolGuestId(key, 4), record(key, { waitingSince: new Date(Date.now() - 7_200_000).toISOString() }));
  guest(poolGuestId(fakeKey('b'), 1), record(fakeKey('b')));
  const taken = await claimPoolGuest(scratch.stateDir, key, '101.vm');
  assert.is(taken?.id, poolGuestId(key, 2));
  assert.is((JSON.parse(readFileSync(poolGuestFile(taken!.paths.dir), 'utf8')) as { claimedBy?: string }).claimedBy, '101.vm');
  assert.equal(
    poolGuestsOf(scratch.stateDir, '101.vm').map((g) => g.id),
    [poolGuestId(key, 2)],
  );
  assert.is((await claimPoolGuest(scratch.stateDir, key, '102.vm'))?.id, poolGuestId(key, 1));
  assert.is(await claimPoolGuest(scratch.stateDir, key, '103.vm'), undefined);
});

test('jobs racing for the pool: each guest goes to one job alone', async () => {
  const key = fakeKey('c');
  for (const n of [1, 2, 3]) guest(poolGuestId(key, n), record(key));
  const jobs = Array.from({ length: 8 }, (_, i) => `${200 + i}.vm`);
  const taken = await Promise.all(jobs.map((j) => claimPoolGuest(scratch.stateDir, key, j)));
  const ids = taken.flatMap((t) => (t ? [t.id] : []));
  assert.is(ids.length, 3);
  assert.is(new Set(ids).size, 3);
  // each record names the job that got it
  for (const [i, t] of taken.entries())
    if (t)
      assert.equal(
        poolGuestsOf(scratch.stateDir, jobs[i]!).map((g) => g.id),
        [t.id],
      );
});

test("retiring takes waiting guests out (their records go) and leaves a taken guest its job's", async () => {
  const key = fakeKey('d');
  guest(poolGuestId(key, 1), record(key));
  guest(poolGuestId(key, 2), record(key, { claimedBy: '301.vm' }));
  const retired = await retirePoolGuests(scratch.stateDir, key, () => true);
  assert.equal(
    retired.map((g) => g.id),
    [poolGuestId(key, 1)],
  );
  assert.not.ok(existsSync(poolGuestFile(join(scratch.stateDir, 'jobs', poolGuestId(key, 1)))));
  assert.equal(
    listPoolGuests(scratch.stateDir).map((g) => [g.id, g.record?.claimedBy]),
    [
      [poolGuestId(key, 1), undefined],
      [poolGuestId(key, 2), '301.vm'],
    ],
  );
  assert.is(await claimPoolGuest(scratch.stateDir, key, '302.vm'), undefined);
});

test('a waiting guest is idle too long from waitingSince + idleSeconds on', () => {
  const r = record(fakeKey('e'), { waitingSince: '2026-12-03T00:00:00.000Z', idleSeconds: 60 });
  assert.not.ok(idleExpired(r, Date.parse('2026-12-03T00:00:59.999Z')));
  assert.ok(idleExpired(r, Date.parse('2026-12-03T00:01:00.000Z')));
});

test("a damaged record counts as none: the guest is neither waiting nor anybody's", () => {
  const key = fakeKey('f');
  guest(poolGuestId(key, 1), undefined);
  mkdirSync(join(scratch.stateDir, 'jobs', poolGuestId(key, 1)), { recursive: true });
  writePoolGuestRecord(join(scratch.stateDir, 'jobs', poolGuestId(key, 1)), { ...record(key), claimedBy: 42 } as unknown as PoolGuestRecord);
  assert.equal(
    listPoolGuests(scratch.stateDir).map((g) => g.record),
    [undefined],
  );
});

test.run();
