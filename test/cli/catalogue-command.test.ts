import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheScratch, cliPath, type CacheScratch } from '../helpers/image-cache.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir } from '../helpers/paths.js';
import { makeRteTarball } from '../helpers/rte-packages.js';
import { ensureRtePackage } from '../../src/catalogue/rte-packages.js';
import { checkRteTarball } from '../../src/catalogue/check-rte-package.js';

let scratch: CacheScratch;
let server: ImageServer;

const catalogue = (base: string) => `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#" xml:base="${base}">
  <kb:BaseSystem rdf:about="#guest" kb:name="vmbatch-test-guest"/>
  <kb:MetaPackage rdf:about="#vm" kb:name="VMLinux/vmbatch-test"><kb:provides>vmbatch-test-guest</kb:provides>
    <kb:VirtualMachine><kb:os>vmbatch-test-guest</kb:os></kb:VirtualMachine></kb:MetaPackage>
  <kb:MetaPackage rdf:about="#weka" kb:name="APPS/BIO/WEKA-3.4.10" kb:description="WEKA machine learning"><kb:instance rdf:resource="#weka-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#weka-tar" kb:url="weka.tar"><kb:url>mirror/weka.tar</kb:url><kb:basesystem rdf:resource="#guest"/><kb:depends rdf:resource="#jre"/></kb:TarPackage>
  <kb:MetaPackage rdf:about="#jre" kb:name="ENV/Java/JRE-1.5.0"><kb:instance rdf:resource="#jre-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#jre-tar" kb:url="jre.tar"><kb:basesystem rdf:resource="#guest"/></kb:TarPackage>
</rdf:RDF>
`;

test.before(async () => {
  server = await startImageServer();
  scratch = cacheScratch();
  mkdirSync(join(scratch.root, 'domains'));
  copyFileSync(join(domainsDir, 'testguest.xml'), join(scratch.root, 'domains', 'testguest.xml'));
  const file = join(scratch.root, 'site.rdf');
  writeFileSync(file, catalogue(server.url('/rtes/')));
  writeFileSync(
    scratch.configFile,
    JSON.stringify({ stateDir: scratch.stateDir, logFile: join(scratch.root, 'log'), domainsDir: join(scratch.root, 'domains'), catalogue: { sources: [file], denyRte: ['APPS/MATH/*'] } }),
  );
  await makeRteTarball(join(scratch.root, 'jre.tar'), { runtime: { 1: 'JAVA=1' } });
  server.route('/rtes/jre.tar', { kind: 'file', path: join(scratch.root, 'jre.tar') });
});
test.after(async () => {
  await server.close();
  rmSync(scratch.root, { recursive: true, force: true });
});

const cli = (args: string[]) => execa(process.execPath, [cliPath, 'catalogue', ...args], { env: { VMBATCH_CONFIG: scratch.configFile }, reject: false });

test('resolve prints the plan in install order; --json has the same; exit 0', async () => {
  const run = await cli(['resolve', 'APPS/BIO/WEKA-3.4.10']);
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(
    run.stdout,
    [
      'base system: vmbatch-test-guest',
      'virtual machine: VMLinux/vmbatch-test (domain template testguest)',
      'packages, in install order:',
      `  1. ENV/Java/JRE-1.5.0  tar  ${server.url('/rtes/jre.tar')}  -> /opt/vmbatch/rte/ENV/Java/JRE-1.5.0  (needed by APPS/BIO/WEKA-3.4.10)`,
      `  2. APPS/BIO/WEKA-3.4.10  tar  ${server.url('/rtes/weka.tar')} (mirrors: ${server.url('/rtes/mirror/weka.tar')})  -> /opt/vmbatch/rte/APPS/BIO/WEKA-3.4.10`,
    ].join('\n'),
  );
  const json = JSON.parse((await cli(['resolve', 'APPS/BIO/WEKA-3.4.10', '--json'])).stdout) as { template: string; packages: { name: string; mirrors: string[] }[] };
  assert.equal([json.template, json.packages.map((p: { name: string }) => p.name)], ['testguest', ['ENV/Java/JRE-1.5.0', 'APPS/BIO/WEKA-3.4.10']]);
  assert.equal(
    json.packages.map((p: { mirrors: string[] }) => p.mirrors),
    [[], [server.url('/rtes/mirror/weka.tar')]],
  );
});

test('Janitor exit codes: 1 when a request cannot be provided or a package is unknown; 2 for a bad command line', async () => {
  const unknown = await cli(['resolve', 'APPS/BIO/NOPE-1']);
  assert.is(unknown.exitCode, 1);
  assert.is(
    unknown.stderr,
    "vmbatch: RTE_UNKNOWN: the runtime environment 'APPS/BIO/NOPE-1' is in no catalogue of this site\n  hint: `vmbatch catalogue search WORD` lists what the catalogues offer; names are exact, e.g. APPS/BIO/WEKA-3.4.10",
  );
  const info = await cli(['info', 'APPS/BIO/NOPE-1']);
  assert.is(info.exitCode, 1);
  assert.is(info.stderr, 'vmbatch: no package named APPS/BIO/NOPE-1 in the catalogues (`vmbatch catalogue search WORD` finds names)');
  const bad = await cli(['resolve', '--colour', 'x']);
  assert.is(bad.exitCode, 2);
  assert.match(bad.stderr, "vmbatch: USAGE_INVALID: the command line is invalid:\n  - Unknown option '--colour'");
  const none = await cli(['frobnicate']);
  assert.is(none.exitCode, 2);
  assert.match(none.stderr, "vmbatch: unknown catalogue command 'frobnicate'");
});

test('search, info and list read the catalogue and show the state on this node', async () => {
  const search = await cli(['search', 'weka']);
  assert.is(search.stdout, 'APPS/BIO/WEKA-3.4.10  WEKA machine learning');
  // a package fetched by a job shows up with its state and user
  await ensureRtePackage(scratch.ctx('7.vm'), { name: 'ENV/Java/JRE-1.5.0', instance: 'x#jre-tar', url: server.url('/rtes/jre.tar'), kind: 'tar', check: checkRteTarball });
  const info = await cli(['info', 'ENV/Java/JRE-1.5.0']);
  assert.is(info.exitCode, 0, info.stderr);
  const lines = info.stdout.split('\n');
  assert.is(lines[0], 'ENV/Java/JRE-1.5.0');
  assert.is(lines[2], `  TarPackage for vmbatch-test-guest: ${server.url('/rtes/jre.tar')}`);
  assert.match(lines[3]!, /^ {2}on this node: INSTALLED since \S+, users: testhost--7\.vm$/);
  const list = await cli(['list']);
  assert.match(list.stdout, `virtual machines:\n  VMLinux/vmbatch-test  provides vmbatch-test-guest  templates: testguest\n`);
  assert.ok(list.stdout.endsWith(`on this node:\n  ENV/Java/JRE-1.5.0  INSTALLED  users: testhost--7.vm  ${server.url('/rtes/jre.tar')}`), list.stdout);
});

test('setstate refuses what the Janitor would (exit 1) and sweep always exits 0', async () => {
  const refused = await cli(['setstate', 'INSTALLABLE', 'ENV/Java/JRE-1.5.0']);
  assert.is(refused.exitCode, 1);
  assert.match(refused.stderr, "vmbatch: RTE_STATE_REFUSED: the runtime environment 'ENV/Java/JRE-1.5.0' cannot go from INSTALLED to INSTALLABLE");
  const pending = await cli(['setstate', 'REMOVAL_PENDING', 'ENV/Java/JRE-1.5.0']);
  assert.is(pending.exitCode, 0, pending.stderr);
  assert.is(pending.stdout, `ENV/Java/JRE-1.5.0  INSTALLED -> REMOVAL_PENDING  ${server.url('/rtes/jre.tar')}`);
  // the job 7.vm still uses it (its record is of another host, which this node never judges)
  const sweep = await cli(['sweep']);
  assert.is(sweep.exitCode, 0);
  assert.is(sweep.stdout, `pending  ENV/Java/JRE-1.5.0  ${server.url('/rtes/jre.tar')}  (removal pending; in use by testhost--7.vm)`);
});

test.run();
