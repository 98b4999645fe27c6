// The reconcile decisions as plain values: which job is live, which item goes and why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planReconcile } from '../../src/cleanup/reconcile-plan.js';
import type { JobFacts, NodeFacts } from '../../src/cleanup/node-facts.js';

const boot = 'this-boot';
const now = 1_000_000_000;
const facts = (over: Partial<NodeFacts>): NodeFacts => ({
  bootId: boot,
  bootTimeMs: now - 3_600_000,
  now,
  oracle: 'none',
  jobs: [],
  domains: [],
  reservations: [],
  attempts: [],
  cacheUses: [],
  seedings: [],
  liveFetches: [],
  libvirtLogs: [],
  ...over,
});
const job = (jobId: string, over: Partial<JobFacts> = {}): JobFacts => ({
  jobId,
  dir: `/s/jobs/${jobId}`,
  bootId: boot,
  dirMtimeMs: now - 600_000,
  hasOwnerRecord: true,
  prologueAlive: false,
  batchSystemHas: undefined,
  ...over,
});
const verdicts = (f: NodeFacts) => planReconcile(f).map((i) => [i.kind, 'jobId' in i ? i.jobId : '', i.reason]);

test('a job of an earlier boot is dead, by its record or (no record) by its directory older than the boot', () => {
  assert.equal(verdicts(facts({ jobs: [job('1', { bootId: 'old', prologueAlive: false })] })), [['job', '1', 'from an earlier boot']]);
  assert.equal(verdicts(facts({ jobs: [job('2', { bootId: undefined, hasOwnerRecord: false, dirMtimeMs: now - 7_200_000 })] })), [['job', '2', 'from an earlier boot']]);
});

test('a job of this boot: live while its prologue runs, while a directory without owner is young, while its guest exists (no oracle)', () => {
  assert.equal(verdicts(facts({ jobs: [job('1', { prologueAlive: true, batchSystemHas: false })] })), []);
  assert.equal(verdicts(facts({ jobs: [job('2', { hasOwnerRecord: false, bootId: undefined, dirMtimeMs: now - 5_000 })] })), []);
  assert.equal(verdicts(facts({ jobs: [job('3')], domains: ['vmbatch-3'] })), []);
  assert.equal(verdicts(facts({ jobs: [job('4')] })), [['job', '4', 'its prologue ended and it has no guest']]);
});

test('with the oracle, the batch system decides once the prologue ended, even while the guest runs', () => {
  assert.equal(verdicts(facts({ oracle: 'torque', jobs: [job('1', { batchSystemHas: true })] })), []);
  assert.equal(verdicts(facts({ oracle: 'torque', jobs: [job('2', { batchSystemHas: false })], domains: ['vmbatch-2'] })), [
    ['domain', '2', 'the batch system no longer has the job'],
    ['job', '2', 'the batch system no longer has the job'],
  ]);
});

test('a pool guest: a waiting one lives while its domain does; a taken one lives and dies with the job that took it', () => {
  const p = 'pool-0123456789ab-1';
  // waiting, with its guest: live, also with an oracle (the batch system has no pool guests)
  assert.equal(verdicts(facts({ oracle: 'torque', jobs: [job(p, { pool: { waiting: true } })], domains: [`vmbatch-${p}`] })), []);
  assert.equal(verdicts(facts({ jobs: [job(p, { pool: { waiting: true } })] })), [['job', p, 'its prologue ended and it has no guest']]);
  // taken by a live job: live; by a dead or absent one: gone with it (domain first)
  assert.equal(verdicts(facts({ jobs: [job('7', { prologueAlive: true }), job(p, { pool: { claimedBy: '7' } })], domains: [`vmbatch-${p}`] })), []);
  assert.equal(verdicts(facts({ oracle: 'torque', jobs: [job('7', { batchSystemHas: false }), job(p, { pool: { claimedBy: '7' } })], domains: [`vmbatch-${p}`] })), [
    ['domain', p, 'the job that took it from the pool is gone'],
    ['job', '7', 'the batch system no longer has the job'],
    ['job', p, 'the job that took it from the pool is gone'],
  ]);
  assert.equal(verdicts(facts({ jobs: [job(p, { pool: { claimedBy: '8' } })], domains: [`vmbatch-${p}`] })), [
    ['domain', p, 'the job that took it from the pool is gone'],
    ['job', p, 'the job that took it from the pool is gone'],
  ]);
  // of an earlier boot: dead whatever its record says
  assert.equal(verdicts(facts({ jobs: [job(p, { bootId: 'old', pool: { waiting: true } })] })), [['job', p, 'from an earlier boot']]);
});

test('reservations of any kind follow their boot and their job; attempt counters go only with an earlier boot', () => {
  const r = (kind: string, jobId: string, bootId: string | undefined, mtimeMs = now) => ({ kind, name: `${kind}-${jobId}`, file: `/s/${kind}/x`, text: '', jobId, bootId, mtimeMs });
  const plan = planReconcile(
    facts({
      jobs: [job('live', { prologueAlive: true })],
      reservations: [r('guest-uids', 'live', boot), r('guest-uids', 'gone', boot), r('addresses', 'live', 'old'), r('ports', 'live', undefined, now - 7_200_000)],
      attempts: [
        { jobId: 'requeued', file: '/s/attempts/requeued', bootId: boot, mtimeMs: now },
        { jobId: 'old', file: '/s/attempts/old', bootId: 'old', mtimeMs: now },
      ],
    }),
  );
  assert.equal(
    plan.map((i) => (i.kind === 'reservation' ? [i.reservation.kind, i.reservation.jobId, i.reason] : [i.kind, i.reason])),
    [
      ['guest-uids', 'gone', 'no job directory'],
      ['addresses', 'live', 'from an earlier boot'],
      ['ports', 'live', 'from an earlier boot'],
      ['attempts', 'from an earlier boot'],
    ],
  );
});

test('cache marks: a job without directory, a fetch whose process is gone; a live fetch and a live job keep theirs', () => {
  const m = (jobId: string) => ({ entryDir: '/c/e', file: `/c/e/users/h--${jobId}`, lock: '/c/e/lock', jobRef: `h--${jobId}`, jobId });
  const plan = planReconcile(facts({ jobs: [job('live', { prologueAlive: true })], cacheUses: [m('live'), m('gone'), m('fetch-1'), m('fetch-2')], seedings: [m('gone')], liveFetches: ['fetch-2'] }));
  assert.equal(
    plan.map((i) => [i.kind, 'mark' in i ? i.mark.jobId : '', i.reason]),
    [
      ['seeding', 'gone', 'no job directory'],
      ['cache-use', 'gone', 'no job directory'],
      ['cache-use', 'fetch-1', 'the images fetch that made it no longer runs'],
    ],
  );
});

test("libvirt's log of a job's domain goes with the job: a live job's stays, a dead one's and one without a directory go after the domain", () => {
  const log = (jobId: string) => ({ jobId, file: `/var/log/libvirt/qemu/vmbatch-${jobId}.log` });
  assert.equal(verdicts(facts({ jobs: [job('1', { prologueAlive: true }), job('2'), job('3')], domains: ['vmbatch-3'], libvirtLogs: [log('1'), log('2'), log('3'), log('4')] })), [
    ['job', '2', 'its prologue ended and it has no guest'],
    ['libvirt-log', '2', 'its prologue ended and it has no guest'],
    ['libvirt-log', '4', 'no job directory'],
  ]);
  assert.equal(verdicts(facts({ oracle: 'torque', jobs: [job('5', { batchSystemHas: false })], domains: ['vmbatch-5'], libvirtLogs: [log('5')] })), [
    ['domain', '5', 'the batch system no longer has the job'],
    ['job', '5', 'the batch system no longer has the job'],
    ['libvirt-log', '5', 'the batch system no longer has the job'],
  ]);
});

test.run();
