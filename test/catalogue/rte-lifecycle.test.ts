import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { ensureRtePackage, rtePaths, type RtePackage, type RtePackageFile } from '../../src/catalogue/rte-packages.js';
import { noteGuestRteFailure, noteGuestRteSuccess } from '../../src/catalogue/prepare-rtes.js';
import type { RtePlan } from '../../src/catalogue/rte-plan.js';
import type { RteResolution } from '../../src/catalogue/resolve-request.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { withFileLock } from '../../src/fsutil/file-lock.js';
import { removeLockedEntry } from '../../src/images/cache-admin.js';
import { listRtes, setRteState } from '../../src/catalogue/rte-admin.js';
import { readRteState, rteFile, transition, type RteRecord } from '../../src/catalogue/rte-state.js';
import { sweepRtes, type SweepAction } from '../../src/catalogue/rte-sweep.js';
import { readCacheUses } from '../../src/images/cache-context.js';
import { addEntryUser, entryUsers } from '../../src/images/cache-users.js';
import { releaseCacheUses } from '../../src/images/release-uses.js';
import { createLogger } from '../../src/log/logger.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { cacheScratch, type CacheScratch } from '../helpers/image-cache.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { makeTar } from '../helpers/make-tar.js';
import { repoRoot } from '../helpers/paths.js';
import { waitForFs } from '../helpers/wait-for-fs.js';

const log = createLogger(undefined, 'test');
let server: ImageServer;
let work: string;
let good: Buffer;
let bad: Buffer;
const scratches: CacheScratch[] = [];

test.before(async () => {
  server = await startImageServer();
  work = mkdtempSync(join(tmpdir(), 'vmbatch-rte-'));
  await makeTar(join(work, 'good.tar'), [
    { name: 'control', dir: true },
    { name: 'control/install', content: '#!/bin/sh\nexit 0\n', mode: 0o755 },
    { name: 'control/runtime', content: 'export WEKA_HOME="$1"\n', mode: 0o755 },
    { name: 'data', dir: true },
    { name: 'data/weka.jar', content: 'PK fake jar' },
  ]);
  await makeTar(join(work, 'bad.tar'), [
    { name: 'control', dir: true },
    { name: 'control/runtime', content: 'true\n' },
    { name: 'data', dir: true },
  ]);
  good = readFileSync(join(work, 'good.tar'));
  bad = readFileSync(join(work, 'bad.tar'));
});
test.after(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
  for (const s of scratches) rmSync(s.root, { recursive: true, force: true });
});

// Each test has its own node (a sweep acts on the whole cache).
function node(): CacheScratch {
  const s = cacheScratch();
  scratches.push(s);
  return s;
}

// The package check the prologue would use: the members control/install and control/runtime must be there.
async function tarCheck(file: string): Promise<string[]> {
  const { stdout } = await execa('tar', ['-tf', file]);
  const names = stdout.split('\n').map((n) => n.replace(/^\.\//, ''));
  return ['control/install', 'control/runtime'].filter((n) => !names.includes(n)).map((n) => `${n} is missing`);
}

function pkg(name: string, path: string, check: RtePackage['check'] = tarCheck): RtePackage {
  return { name, instance: `http://catalogue.example/apps.rdf#${path.slice(1)}`, url: server.url(path), kind: 'tar', check };
}

const recordOf = (s: CacheScratch, p: RtePackage) => readRteState(rtePaths(s.cacheDir, p.url));
const history = (r: RteRecord | undefined) => (r?.history ?? []).map((h) => `${h.from}->${h.to} by ${h.by}`);
const release = (s: CacheScratch, job: string) => releaseCacheUses(s.ctx(job).usesFile, `testhost--${job}`, log);
const brief = (actions: SweepAction[]) => actions.map((a) => `${a.name} ${a.state} ${a.action}: ${a.reason}`).sort();

test('INSTALLABLE -> INSTALLING -> INSTALLED with the use record; a second job reuses it without a GET', async () => {
  const s = node();
  const p = pkg('APPS/BIO/WEKA-3.4.10', '/weka.tar');
  server.route('/weka.tar', { kind: 'slow', data: good, chunk: 1024, everyMs: 5 });
  assert.is(recordOf(s, p), undefined, 'no rte.json: INSTALLABLE');
  // while the body streams in, the package is INSTALLING, marked with the job
  const installing = new Promise<RteRecord | undefined>((resolve) => server.events.on('sent', (path: string, bytes: number) => path === '/weka.tar' && bytes === 1024 && resolve(recordOf(s, p))));
  const first = await ensureRtePackage(s.ctx('1'), p);
  const during = await installing;
  assert.is(during?.state, 'INSTALLING');
  assert.is(during?.by, 'testhost--1');
  assert.ok(readFileSync(first.file).equals(good));
  const record = recordOf(s, p)!;
  assert.equal(
    { name: record.name, instance: record.instance, url: record.url, kind: record.kind, state: record.state, by: record.by },
    { name: p.name, instance: p.instance, url: p.url, kind: 'tar', state: 'INSTALLED', by: 'testhost--1' },
  );
  assert.equal(history(record), ['INSTALLABLE->INSTALLING by testhost--1', 'INSTALLING->INSTALLED by testhost--1']);
  assert.equal(entryUsers(first.paths), ['testhost--1']);
  assert.equal(
    readCacheUses(s.ctx('1').usesFile).map((u) => u.entry.dir),
    [first.paths.dir],
    'noted for teardown like an image',
  );

  const second = await ensureRtePackage(s.ctx('2'), p);
  assert.is(server.requests('/weka.tar'), 1, 'the second job found it installed');
  assert.is(second.file, first.file);
  assert.equal(entryUsers(first.paths), ['testhost--1', 'testhost--2']);
  assert.equal(history(recordOf(s, p)), history(record), 'reuse changes no state');
  assert.equal(readdirSync(first.paths.dir).sort(), ['image', 'last-used', 'lock', 'meta.json', 'rte.json', 'users']);
  const [row] = listRtes(s.cacheDir);
  assert.equal(
    { name: row?.name, kind: row?.kind, state: row?.state, since: row?.since, users: row?.users, used: row?.lastUsed instanceof Date, sized: (row?.bytes ?? 0) >= good.length },
    { name: p.name, kind: 'tar', state: 'INSTALLED', since: record.since, users: ['testhost--1', 'testhost--2'], used: true, sized: true },
  );
  // teardown releases RTE packages exactly as it releases images
  await release(s, '1');
  await release(s, '2');
  assert.equal(entryUsers(first.paths), []);
});

test('a 404 marks the package FAILED; the next job is refused with RTE_FAILED without a GET', async () => {
  const s = node();
  const p = pkg('APPS/BIO/GONE-1.0', '/gone.tar');
  const fetchError = await expectVmbatchError(() => ensureRtePackage(s.ctx('3'), p), 'DOWNLOAD_HTTP_STATUS');
  assert.is(fetchError.message, `downloading ${p.url} failed: the server answered 404 Not Found`);
  const record = recordOf(s, p)!;
  assert.is(record.state, 'FAILED');
  assert.is(record.reason, `downloading ${p.url} failed: the server answered 404 Not Found`);
  // the failed download took the half-made entry (and its INSTALLING mark) with it
  assert.equal(history(record), ['INSTALLABLE->FAILED by testhost--3']);
  assert.equal(readdirSync(rtePaths(s.cacheDir, p.url).dir).sort(), ['lock', 'rte.json']);
  assert.is(server.requests('/gone.tar'), 1);

  const refused = await expectVmbatchError(() => ensureRtePackage(s.ctx('4'), p), 'RTE_FAILED');
  assert.is(refused.message, `the runtime environment 'APPS/BIO/GONE-1.0' is marked FAILED on this site since ${record.since}: downloading ${p.url} failed: the server answered 404 Not Found`);
  assert.is(refused.hint, 'once the package is fixed, the site admin runs `vmbatch catalogue setstate INSTALLABLE APPS/BIO/GONE-1.0`');
  assert.is(refused.kind, 'permanent');
  assert.is(server.requests('/gone.tar'), 1, 'a FAILED package is not fetched again');
  assert.equal(readCacheUses(s.ctx('4').usesFile), [], 'a refused job uses nothing');
});

test('a 500 is transient: no FAILED mark and no rte.json are left, and the next job fetches it', async () => {
  const s = node();
  const p = pkg('APPS/BIO/FLAKY-1.0', '/flaky.tar');
  server.route('/flaky.tar', { kind: 'status', status: 500 });
  const error = await expectVmbatchError(() => ensureRtePackage(s.ctx('5'), p), 'DOWNLOAD_SERVER_ERROR');
  assert.is(error.kind, 'transient');
  assert.not.ok(existsSync(rteFile(rtePaths(s.cacheDir, p.url))), 'INSTALLABLE: no rte.json');
  server.route('/flaky.tar', { kind: 'data', data: good });
  await ensureRtePackage(s.ctx('6'), p);
  assert.is(recordOf(s, p)?.state, 'INSTALLED');
  assert.is(server.requests('/flaky.tar'), 2);
});

test('further kb:urls are mirrors: all refusing marks FAILED with every reason, a 503 among them leaves it INSTALLABLE, a working one installs it under the first URL', async () => {
  const s = node();
  server.route('/mirror-a/weka.tar', { kind: 'status', status: 404 });
  server.route('/mirror-b/weka.tar', { kind: 'status', status: 404 });
  server.route('/mirror-c/weka.tar', { kind: 'status', status: 503 });
  const [a, b, c] = ['/mirror-a/weka.tar', '/mirror-b/weka.tar', '/mirror-c/weka.tar'].map((p) => server.url(p)) as [string, string, string];
  const p: RtePackage = { ...pkg('APPS/BIO/MIRRORED-1.0', '/mirror-c/weka.tar'), mirrors: [a] };
  const transient = await expectVmbatchError(() => ensureRtePackage(s.ctx('m1'), p), 'DOWNLOAD_MIRRORS_FAILED');
  assert.is(transient.kind, 'transient');
  assert.not.ok(existsSync(rteFile(rtePaths(s.cacheDir, c))), 'INSTALLABLE: the next job tries again');

  const q: RtePackage = { ...pkg('APPS/BIO/MIRRORED-2.0', '/mirror-a/weka.tar'), mirrors: [b] };
  const refused = await expectVmbatchError(() => ensureRtePackage(s.ctx('m2'), q), 'DOWNLOAD_MIRRORS_REFUSED');
  const reason = `${a} could not be downloaded from any of its 2 URLs:\n  - downloading ${a} failed: the server answered 404 Not Found\n  - downloading ${b} failed: the server answered 404 Not Found`;
  assert.is(refused.message, reason);
  assert.is(recordOf(s, q)?.state, 'FAILED');
  assert.is(recordOf(s, q)?.reason, reason);
  await setRteState(s.cacheDir, 'APPS/BIO/MIRRORED-2.0', 'INSTALLABLE');

  server.route('/mirror-c/weka.tar', { kind: 'data', data: good });
  const got = await ensureRtePackage(s.ctx('m3'), { ...q, mirrors: [b, c] });
  assert.ok(readFileSync(got.file).equals(good));
  assert.is(got.paths.dir, rtePaths(s.cacheDir, a).dir);
  assert.equal({ state: recordOf(s, q)?.state, url: recordOf(s, q)?.url }, { state: 'INSTALLED', url: a });
});

test('check() problems mark the package FAILED (RTE_PACKAGE_INVALID); the job releases it; an admin reset fetches it again', async () => {
  const s = node();
  const p = pkg('APPS/BIO/BROKEN-2.0', '/broken.tar');
  server.route('/broken.tar', { kind: 'data', data: bad });
  const invalid = await expectVmbatchError(() => ensureRtePackage(s.ctx('9'), p), 'RTE_PACKAGE_INVALID');
  assert.is(invalid.message, `the package of APPS/BIO/BROKEN-2.0 (${p.url}) is not a valid runtime environment:\n  - control/install is missing`);
  const paths = rtePaths(s.cacheDir, p.url);
  const failed = recordOf(s, p)!;
  assert.is(failed.state, 'FAILED');
  assert.is(failed.reason, 'not a valid runtime environment: control/install is missing');
  assert.equal(entryUsers(paths), [], 'the job does not keep a package it will not use');
  assert.ok(existsSync(paths.data), 'the data stays for the admin to look at');
  const refused = await expectVmbatchError(() => ensureRtePackage(s.ctx('10'), p), 'RTE_FAILED');
  assert.is(refused.message, `the runtime environment 'APPS/BIO/BROKEN-2.0' is marked FAILED on this site since ${failed.since}: not a valid runtime environment: control/install is missing`);

  // the catalogue maintainer fixes the package; the admin resets the state
  server.route('/broken.tar', { kind: 'data', data: good });
  const outcomes = await setRteState(s.cacheDir, 'APPS/BIO/BROKEN-2.0', 'INSTALLABLE');
  assert.equal(outcomes, [{ name: p.name, url: p.url, from: 'FAILED', to: 'INSTALLABLE' }]);
  assert.not.ok(existsSync(paths.data), 'its data goes, so it is fetched again');
  assert.not.ok(existsSync(paths.meta));
  assert.is(recordOf(s, p)?.state, 'INSTALLABLE');
  const fixed = await ensureRtePackage(s.ctx('11'), p);
  assert.ok(readFileSync(fixed.file).equals(good));
  assert.is(server.requests('/broken.tar'), 2);
  assert.equal(history(recordOf(s, p)), [
    'INSTALLABLE->INSTALLING by testhost--9',
    'INSTALLING->FAILED by testhost--9',
    'FAILED->INSTALLABLE by admin',
    'INSTALLABLE->INSTALLING by testhost--11',
    'INSTALLING->INSTALLED by testhost--11',
  ]);
});

// The job's plan as noteGuestRteFailure sees it: the packages it fetched (and a command check).
function jobRte(packages: RtePackage[], failuresToMarkFailed = 2): RtePlan {
  const planned = packages.map((p) => ({ name: p.name, kind: p.kind, instance: p.instance, url: p.url, mirrors: [], cacheFile: '' }));
  const resolved = [...planned.map((p) => ({ ...p, urls: [p.url] })), { kind: 'command', name: 'ENV/CMD/PERL' }];
  return { resolution: { requested: [], base: 'b', vm: 'v', template: 't', packages: resolved as unknown as RteResolution['packages'] }, packages: planned, guest: [], failuresToMarkFailed };
}

test("a guest's failure report: one user's reports, however many, leave the package INSTALLED for others; the guests of two different users mark it FAILED with vmbatch's reason", async () => {
  const s = node();
  const p = pkg('APPS/BIO/GUESTFAIL-1.0', '/guestfail.tar');
  server.route('/guestfail.tar', { kind: 'data', data: good });
  await ensureRtePackage(s.ctx('12'), p);
  const { log: rec, lines } = recordingLogger();
  const rte = jobRte([p]);
  const evil = 'rte APPS/BIO/GUESTFAIL-1.0: \x1b[31mcall 555-EVIL for support';
  for (const job of ['12', '13', '14']) await noteGuestRteFailure(rte, evil, { cacheDir: s.cacheDir, jobRef: `testhost--${job}`, uid: 5001, log: rec });
  const one = recordOf(s, p)!;
  assert.is(one.state, 'INSTALLED');
  assert.equal(
    one.guestFailures?.map((f) => [f.uid, f.by]),
    [[5001, 'testhost--14']],
    'one entry per user, the latest',
  );
  assert.is((await ensureRtePackage(s.ctx('15'), p)).file, rtePaths(s.cacheDir, p.url).data, 'another user still gets it');
  // a success starts the count again: another user's failure afterwards is the first
  await noteGuestRteSuccess(rte, { cacheDir: s.cacheDir, jobRef: 'testhost--15', uid: 5002, log: rec });
  assert.is(recordOf(s, p)!.guestFailures, undefined);
  await noteGuestRteFailure(rte, evil, { cacheDir: s.cacheDir, jobRef: 'testhost--16', uid: 5003, log: rec });
  assert.is(recordOf(s, p)!.state, 'INSTALLED');
  await noteGuestRteFailure(rte, 'rte APPS/BIO/GUESTFAIL-1.0: control/install exited 3', { cacheDir: s.cacheDir, jobRef: 'testhost--17', uid: 5004, log: rec });
  const failed = recordOf(s, p)!;
  assert.is(failed.state, 'FAILED');
  assert.is(failed.reason, "the installation failed in the guests of 2 different users' jobs; see the node's log");
  assert.equal(
    failed.guestFailures?.map((f) => f.uid),
    [5003, 5004],
  );
  const refused = await expectVmbatchError(() => ensureRtePackage(s.ctx('18'), p), 'RTE_FAILED');
  assert.is(
    refused.message,
    `the runtime environment 'APPS/BIO/GUESTFAIL-1.0' is marked FAILED on this site since ${failed.since}: the installation failed in the guests of 2 different users' jobs; see the node's log`,
  );
  assert.not.match(JSON.stringify(failed), 'EVIL', "no guest's text in rte.json");
  // the guest's text is in the node's log, with the job and the user
  assert.equal(lines.filter((l) => l.level === 'warn').length, 5);
  assert.equal(lines[0], {
    level: 'warn',
    msg: 'a guest reported a failed install of a runtime environment',
    fields: { job: 'testhost--12', uid: 5001, rte: p.name, guest: '\x1b[31mcall 555-EVIL for support' },
  });
  assert.equal(lines.at(-1), {
    level: 'error',
    msg: 'runtime environment marked FAILED: its install failed in the guests of different users',
    fields: { rte: p.name, url: p.url, users: 2, jobs: 'testhost--16,testhost--17' },
  });
  // the admin's reset forgets the reports
  await setRteState(s.cacheDir, p.name, 'INSTALLABLE');
  await ensureRtePackage(s.ctx('19'), p);
  assert.is(recordOf(s, p)!.guestFailures, undefined);
});

test('a forged report naming a package the job does not install is ignored (logged); a command check changes nothing; failuresToMarkFailed 1 trusts every guest', async () => {
  const s = node();
  const mine = pkg('APPS/MINE-1', '/forge-mine.tar');
  const other = pkg('APPS/OTHER-1', '/forge-other.tar');
  server.route('/forge-mine.tar', { kind: 'data', data: good });
  server.route('/forge-other.tar', { kind: 'data', data: good });
  await ensureRtePackage(s.ctx('20'), mine);
  await ensureRtePackage(s.ctx('21'), other);
  const { log: rec, lines } = recordingLogger();
  for (const [uid, job] of [
    [6001, '22'],
    [6002, '23'],
    [6003, '24'],
  ] as const) {
    await noteGuestRteFailure(jobRte([mine]), 'rte APPS/OTHER-1: evil text', { cacheDir: s.cacheDir, jobRef: `testhost--${job}`, uid, log: rec });
    await noteGuestRteFailure(jobRte([mine]), 'rte ENV/CMD/PERL: perl is missing', { cacheDir: s.cacheDir, jobRef: `testhost--${job}`, uid, log: rec });
  }
  assert.is(recordOf(s, other)!.state, 'INSTALLED');
  assert.is(recordOf(s, other)!.guestFailures, undefined);
  assert.is(recordOf(s, mine)!.guestFailures, undefined);
  assert.equal(
    lines.map((l) => l.msg),
    Array(3).fill('a guest reported a failed install of a runtime environment its job does not install; ignored'),
  );
  assert.equal(lines[0]!.fields, { job: 'testhost--22', uid: 6001, rte: 'APPS/OTHER-1', guest: 'evil text' });
  // a site that trusts its guests (failuresToMarkFailed: 1) gets the old behaviour
  await noteGuestRteFailure(jobRte([mine], 1), 'rte APPS/MINE-1: broken', { cacheDir: s.cacheDir, jobRef: 'testhost--25', uid: 6001, log: rec });
  assert.is(recordOf(s, mine)!.reason, "the installation failed in the guests of 1 different users' jobs; see the node's log");
});

test('sweep: removes an expired unused package, marks a used expired one REMOVAL_PENDING (refused to new jobs), keeps FAILED and fresh ones; force removes unused ones', async () => {
  const s = node();
  const expired = pkg('APPS/OLD-1', '/sweep-old.tar');
  const used = pkg('APPS/USED-1', '/sweep-used.tar');
  const fresh = pkg('APPS/FRESH-1', '/sweep-fresh.tar');
  const failed = pkg('APPS/FAILED-1', '/sweep-failed.tar');
  for (const p of [expired, used, fresh, failed]) server.route(new URL(p.url).pathname, { kind: 'data', data: p === failed ? bad : good });
  await ensureRtePackage(s.ctx('old'), expired);
  await ensureRtePackage(s.ctx('used'), used);
  await ensureRtePackage(s.ctx('fresh'), fresh);
  await expectVmbatchError(() => ensureRtePackage(s.ctx('failed'), failed), 'RTE_PACKAGE_INVALID');
  await release(s, 'old');
  await release(s, 'fresh');
  // the old and the used one were last used two hours ago, the fresh one a minute ago
  const t = Date.now();
  const ago = (p: RtePackage, seconds: number) => utimesSync(rtePaths(s.cacheDir, p.url).lastUsed, new Date(t - seconds * 1000), new Date(t - seconds * 1000));
  ago(expired, 7200);
  ago(used, 7200);
  ago(fresh, 60);
  const first = await sweepRtes(s.cacheDir, { expirySeconds: 3600, force: false, now: t, log });
  assert.equal(brief(first), [
    'APPS/FAILED-1 FAILED kept: failed: kept until an admin changes its state',
    'APPS/FRESH-1 INSTALLED kept: last used 60 s ago (expiry 3600 s)',
    'APPS/OLD-1 INSTALLED removed: unused for 7200 s (expiry 3600 s)',
    'APPS/USED-1 INSTALLED pending: expired (last used 7200 s ago) but in use by testhost--used: not given to new jobs, removed once unused',
  ]);
  assert.not.ok(existsSync(rtePaths(s.cacheDir, expired.url).dir), 'the whole entry went, lock file included');
  const usedRecord = recordOf(s, used)!;
  assert.is(usedRecord.state, 'REMOVAL_PENDING');
  assert.equal(history(usedRecord).at(-1), 'INSTALLED->REMOVAL_PENDING by sweep');
  assert.ok(existsSync(rtePaths(s.cacheDir, used.url).data), 'the running job keeps its package');
  const pending = await expectVmbatchError(() => ensureRtePackage(s.ctx('late'), used), 'RTE_REMOVAL_PENDING');
  assert.is(pending.message, "the runtime environment 'APPS/USED-1' is being removed from this node's cache and is not given to new jobs");
  assert.is(pending.kind, 'transient');
  assert.is(server.requests('/sweep-used.tar'), 1);

  // force removes the unused one that has not expired (FAILED stays even then; in use stays)
  const forced = await sweepRtes(s.cacheDir, { expirySeconds: 3600, force: true });
  assert.equal(brief(forced), [
    'APPS/FAILED-1 FAILED kept: failed: kept until an admin changes its state',
    'APPS/FRESH-1 INSTALLED removed: unused (forced)',
    'APPS/USED-1 REMOVAL_PENDING pending: removal pending; in use by testhost--used',
  ]);
  // the job ends: the next sweep removes it, and the next job gets a fresh copy
  await release(s, 'used');
  const last = await sweepRtes(s.cacheDir, { expirySeconds: 3600, force: false });
  assert.equal(brief(last), ['APPS/FAILED-1 FAILED kept: failed: kept until an admin changes its state', 'APPS/USED-1 REMOVAL_PENDING removed: removal pending and no longer in use']);
  const again = await ensureRtePackage(s.ctx('next'), used);
  assert.ok(readFileSync(again.file).equals(good));
  assert.is(server.requests('/sweep-used.tar'), 2);
  assert.equal(history(recordOf(s, used)), ['INSTALLABLE->INSTALLING by testhost--next', 'INSTALLING->INSTALLED by testhost--next']);
});

test("sweep never guesses about use records; with this node's state directory it drops those of its jobs that are over", async () => {
  const s = node();
  const p = pkg('APPS/STALE-1', '/stale.tar');
  server.route('/stale.tar', { kind: 'data', data: good });
  const got = await ensureRtePackage(s.ctx('gone'), p);
  await release(s, 'gone');
  // a job of this node whose teardown never ran: no job directory is left
  addEntryUser(got.paths, `${hostname()}--77.vm`);
  const without = await sweepRtes(s.cacheDir, { expirySeconds: 3600, force: true });
  assert.equal(brief(without), [`APPS/STALE-1 INSTALLED kept: in use by ${hostname()}--77.vm`]);
  const withState = await sweepRtes(s.cacheDir, { expirySeconds: 3600, force: true, stateDir: s.stateDir });
  assert.equal(brief(withState), ['APPS/STALE-1 INSTALLED removed: unused (forced)']);
});

test('refused changes say why; a name with several packages is changed package by package; REMOVAL_PENDING can be undone', async () => {
  const s = node();
  const a = { ...pkg('APPS/MULTI-1', '/multi-a.tar'), instance: 'http://catalogue.example/apps.rdf#multi-a' };
  const b = { ...pkg('APPS/MULTI-1', '/multi-b.tar'), instance: 'http://catalogue.example/apps.rdf#multi-b' };
  server.route('/multi-a.tar', { kind: 'data', data: good });
  server.route('/multi-b.tar', { kind: 'data', data: bad });
  await ensureRtePackage(s.ctx('a'), a);
  await expectVmbatchError(() => ensureRtePackage(s.ctx('b'), b), 'RTE_PACKAGE_INVALID');

  const outcomes = await setRteState(s.cacheDir, 'APPS/MULTI-1', 'REMOVAL_PENDING');
  const text = outcomes.map((o) => `${o.url.replace(/.*\//, '')} ${o.from}->${o.to}: ${o.error ? `${o.error.code}: ${o.error.message}` : 'changed'}`).sort();
  assert.equal(text, [
    'multi-a.tar INSTALLED->REMOVAL_PENDING: changed',
    "multi-b.tar FAILED->REMOVAL_PENDING: RTE_STATE_REFUSED: the runtime environment 'APPS/MULTI-1' cannot go from FAILED to REMOVAL_PENDING: an admin may change FAILED only to INSTALLABLE",
  ]);
  assert.is(recordOf(s, a)?.state, 'REMOVAL_PENDING');
  assert.is(recordOf(s, b)?.state, 'FAILED');
  // undo, by the download URL
  assert.equal(await setRteState(s.cacheDir, a.url, 'INSTALLED'), [{ name: a.name, url: a.url, from: 'REMOVAL_PENDING', to: 'INSTALLED' }]);
  assert.equal(history(recordOf(s, a)).slice(-2), ['INSTALLED->REMOVAL_PENDING by admin', 'REMOVAL_PENDING->INSTALLED by admin']);

  const [again] = await setRteState(s.cacheDir, a.instance, 'INSTALLED');
  assert.is(again?.error?.message, "the runtime environment 'APPS/MULTI-1' cannot go from INSTALLED to INSTALLED: it is already INSTALLED");
  const [toFailed] = await setRteState(s.cacheDir, a.url, 'FAILED');
  assert.is(toFailed?.error?.message, "the runtime environment 'APPS/MULTI-1' cannot go from INSTALLED to FAILED: an admin may change INSTALLED only to REMOVAL_PENDING");
  const unknown = await expectVmbatchError(() => setRteState(s.cacheDir, 'APPS/NOWHERE-9', 'REMOVAL_PENDING'), 'RTE_STATE_REFUSED');
  assert.is(unknown.message, "the runtime environment 'APPS/NOWHERE-9' cannot go from INSTALLABLE to REMOVAL_PENDING: no package of it is in this node's cache");
  const bogus = await expectVmbatchError(() => setRteState(s.cacheDir, 'APPS/MULTI-1', 'BROKEN'), 'USAGE_INVALID');
  assert.is(bogus.message, "the command line is invalid:\n  - 'BROKEN' is not a state; the states are INSTALLABLE, INSTALLING, INSTALLED, FAILED, REMOVAL_PENDING, REMOVING");
  // the table binds the automatic actors too
  const paths = rtePaths(s.cacheDir, a.url);
  const bySweep = await expectVmbatchError(() => transition(paths, 'FAILED', 'sweep'), 'RTE_STATE_REFUSED');
  assert.is(bySweep.message, "the runtime environment 'APPS/MULTI-1' cannot go from INSTALLED to FAILED: the sweep may not make this change");
  const byJob = await expectVmbatchError(() => transition(paths, 'REMOVAL_PENDING', 'testhost--x'), 'RTE_STATE_REFUSED');
  assert.is(byJob.message, "the runtime environment 'APPS/MULTI-1' cannot go from INSTALLED to REMOVAL_PENDING: the job testhost--x may not make this change");
  assert.is(recordOf(s, a)?.state, 'INSTALLED', 'a refused change changes nothing');
});

// Runs `body` in a separate node process with the compiled modules; resolves to its stdout (JSON).
function inProcess(body: string, args: string[]) {
  const mod = (path: string) => JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'src', path)).href);
  const script = `
    import { createHash } from 'node:crypto';
    import { existsSync, readFileSync } from 'node:fs';
    import { join } from 'node:path';
    const { ensureRtePackage } = await import(${mod('catalogue/rte-packages.js')});
    const { sweepRtes } = await import(${mod('catalogue/rte-sweep.js')});
    const { readRteState } = await import(${mod('catalogue/rte-state.js')});
    const { entryUsers } = await import(${mod('images/cache-users.js')});
    const { releaseCacheUses } = await import(${mod('images/release-uses.js')});
    const { createLogger } = await import(${mod('log/logger.js')});
    const log = createLogger(undefined, 'child');
    const args = process.argv.slice(1);
    const ctx = (cacheDir, jobRef, usesDir) => ({ cacheDir, jobRef, deadline: Date.now() + 120000, stallTimeoutMs: 30000, maxRedirects: 5, createOnceWaitMs: 0, usesFile: join(usesDir, jobRef + '.uses'), log });
    ${body}
  `;
  return execa(process.execPath, ['--input-type=module', '-e', script, ...args], { reject: false });
}

const prologueBody = `
  const [cacheDir, usesDir, url, job, rounds, expected] = args;
  const pkg = { name: 'APPS/RACE-1', instance: 'http://catalogue.example/apps.rdf#race', url, kind: 'tar' };
  for (let i = 0; i < Number(rounds); i++) {
    const jobRef = 'testhost--' + job + '-' + i;
    const c = ctx(cacheDir, jobRef, usesDir);
    const got = await ensureRtePackage(c, pkg);
    // while the use record stands, no sweep may take the package away
    const digest = createHash('sha256').update(readFileSync(got.file)).digest('hex');
    if (digest !== expected) throw new Error(jobRef + ': the package changed under the job');
    if (!entryUsers(got.paths).includes(jobRef)) throw new Error(jobRef + ': its use record is gone');
    if (readRteState(got.paths)?.state !== 'INSTALLED') throw new Error(jobRef + ': not INSTALLED but ' + readRteState(got.paths)?.state);
    await releaseCacheUses(c.usesFile, jobRef, log);
  }
  console.log(JSON.stringify({ rounds: Number(rounds) }));
`;

const sweeperBody = `
  const [cacheDir, stop] = args;
  const counts = { sweeps: 0, removed: 0, busy: 0 };
  // sweeps back to back until told to stop (a file the test creates)
  while (!existsSync(stop)) {
    for (const a of await sweepRtes(cacheDir, { expirySeconds: 3600, force: true })) {
      if (a.action === 'removed') counts.removed++;
      if (a.reason.startsWith('busy')) counts.busy++;
    }
    counts.sweeps++;
  }
  console.log(JSON.stringify(counts));
`;

test('RACE: a sweep skips an entry whose lock a prologue holds, and keeps it for the use record made under that lock', async () => {
  const s = node();
  // a server that sends half the package and waits for the test to let the rest go
  let letGo!: () => void;
  const gate = new Promise<void>((resolve) => (letGo = resolve));
  let halfSent!: () => void;
  const half = new Promise<void>((resolve) => (halfSent = resolve));
  const gated = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': good.length });
    res.write(good.subarray(0, 4096), () => halfSent());
    void gate.then(() => res.end(good.subarray(4096)));
  });
  await new Promise<void>((resolve) => gated.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(gated.address() as AddressInfo).port}/race.tar`;
  try {
    const prologue = inProcess(prologueBody.replace('await releaseCacheUses(c.usesFile, jobRef, log);', ''), [s.cacheDir, s.root, url, 'p', '1', createHash('sha256').update(good).digest('hex')]);
    await half;
    // the prologue holds the entry's lock (ensureCachedImage is downloading under it)
    const during = await sweepRtes(s.cacheDir, { expirySeconds: 0, force: true, now: Date.now() + 3600_000 });
    assert.equal(brief(during), ['APPS/RACE-1 INSTALLING kept: busy: a job holds its lock (fetching it or starting to use it); the next sweep looks again']);
    assert.equal(
      listRtes(s.cacheDir).map((r) => `${r.state} by ${r.by}`),
      ['INSTALLING by testhost--p-0'],
      'a live install is listed as INSTALLING',
    );
    letGo();
    const done = await prologue;
    assert.is(done.exitCode, 0, done.stderr);
    const after = await sweepRtes(s.cacheDir, { expirySeconds: 3600, force: true });
    assert.equal(brief(after), ['APPS/RACE-1 INSTALLED kept: in use by testhost--p-0']);
    assert.ok(readFileSync(rtePaths(s.cacheDir, url).data).equals(good));
  } finally {
    letGo();
    await new Promise<void>((resolve) => gated.close(() => resolve()));
  }
});

test('a dead INSTALLING (lock free, data incomplete) counts as INSTALLABLE: listed so, taken over by the next job', async () => {
  const s = node();
  const p = pkg('APPS/DEAD-1', '/dead.tar');
  server.route('/dead.tar', { kind: 'data', data: good });
  // what a prologue killed while it fetched leaves: its mark, the lock file, no data
  const paths = rtePaths(s.cacheDir, p.url);
  mkdirSync(paths.dir, { recursive: true });
  writeFileSync(paths.lock, '');
  transition(paths, 'INSTALLING', 'testhost--dead', undefined, p);
  const [row] = listRtes(s.cacheDir);
  assert.equal([row?.state, row?.reason], ['INSTALLABLE', 'the install by testhost--dead did not finish']);
  await ensureRtePackage(s.ctx('alive'), p);
  assert.equal(history(recordOf(s, p)), ['INSTALLABLE->INSTALLING by testhost--dead', 'INSTALLING->INSTALLING by testhost--alive', 'INSTALLING->INSTALLED by testhost--alive']);
});

test('a sweep killed while removing leaves REMOVING: jobs are refused until the next sweep finishes the removal', async () => {
  const s = node();
  const p = pkg('APPS/HALFGONE-1', '/halfgone.tar');
  server.route('/halfgone.tar', { kind: 'data', data: good });
  await ensureRtePackage(s.ctx('h1'), p);
  await release(s, 'h1');
  // what a sweep killed right after marking it leaves (the lock died with the sweep)
  transition(rtePaths(s.cacheDir, p.url), 'REMOVING', 'sweep', 'unused (forced)');
  const refused = await expectVmbatchError(() => ensureRtePackage(s.ctx('h2'), p), 'RTE_REMOVAL_PENDING');
  assert.is(refused.message, "the runtime environment 'APPS/HALFGONE-1' is being removed from this node's cache and is not given to new jobs");
  assert.equal(brief(await sweepRtes(s.cacheDir, { expirySeconds: 3600, force: false })), ['APPS/HALFGONE-1 REMOVING removed: a removal that did not finish']);
  assert.not.ok(existsSync(rtePaths(s.cacheDir, p.url).dir));
  await ensureRtePackage(s.ctx('h3'), p);
  assert.is(server.requests('/halfgone.tar'), 2);
});

test('a job that finds the package REMOVING by a live sweep waits for the sweep and fetches a fresh copy instead of being requeued', async () => {
  const s = node();
  const p = pkg('APPS/SWEPT-1', '/swept.tar');
  server.route('/swept.tar', { kind: 'data', data: good });
  await ensureRtePackage(s.ctx('w1'), p);
  await release(s, 'w1');
  const paths = rtePaths(s.cacheDir, p.url);
  let job!: Promise<RtePackageFile>;
  // what sweepRtes does for a forced removal, with the job arriving between its two steps
  await withFileLock(paths.lock, { timeoutMs: 0, purpose: 'test sweep' }, async () => {
    transition(paths, 'REMOVING', 'sweep', 'unused (forced)');
    job = ensureRtePackage(s.ctx('w2'), p);
    removeLockedEntry(paths);
  });
  const got = await job;
  assert.ok(readFileSync(got.file).equals(good));
  assert.equal(history(recordOf(s, p)), ['INSTALLABLE->INSTALLING by testhost--w2', 'INSTALLING->INSTALLED by testhost--w2'], 'a new entry, fetched again');
  assert.is(server.requests('/swept.tar'), 2);
});

test('RACE: 3 prologue processes (12 jobs each, one after the other) and 3 forced sweeps back to back: no package is ever removed under a job that uses it', async () => {
  const s = node();
  server.route('/race.tar', { kind: 'data', data: good });
  const url = server.url('/race.tar');
  const stop = join(s.root, 'stop');
  const expected = createHash('sha256').update(good).digest('hex');
  const sweepers = Array.from({ length: 3 }, () => inProcess(sweeperBody, [s.cacheDir, stop]));
  let counts: { sweeps: number; removed: number; busy: number }[];
  try {
    const prologues = await Promise.all(Array.from({ length: 3 }, (_, i) => inProcess(prologueBody, [s.cacheDir, s.root, url, `j${i}`, '12', expected])));
    for (const run of prologues) assert.is(run.exitCode, 0, run.stderr);
    // every use is released: the next forced sweep removes the package
    await waitForFs(s.cacheDir, () => !existsSync(rtePaths(s.cacheDir, url).dir));
  } finally {
    writeFileSync(stop, '');
    counts = (await Promise.all(sweepers)).map((run) => {
      assert.is(run.exitCode, 0, run.stderr);
      return JSON.parse(run.stdout) as { sweeps: number; removed: number; busy: number };
    });
  }
  const removed = counts.reduce((n, c) => n + c.removed, 0);
  // every download made an entry that a sweep removed at some point, once no job used it
  assert.ok(server.requests('/race.tar') >= 1);
  assert.ok(server.requests('/race.tar') <= removed, `${server.requests('/race.tar')} downloads, ${removed} removals`);
  console.log(
    `  race: ${counts.reduce((n, c) => n + c.sweeps, 0)} sweeps, ${removed} removals, ${counts.reduce((n, c) => n + c.busy, 0)} skipped as busy, ${server.requests('/race.tar')} downloads for 36 uses`,
  );
});

test.run();
