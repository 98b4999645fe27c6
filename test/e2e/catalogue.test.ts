// Runtime environments end to end: a catalogue served over HTTP on 127.0.0.1 chooses the domain
// and the packages; the host fetches them into the shared cache; the real test guest installs
// them in the catalogue's way, and their runtime scripts shape the job's environment. Bad
// requests and broken packages end through the real hooks with Torque's exit codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir, testGuestDir } from '../helpers/paths.js';
import { makeRteImage, makeRteTarball } from '../helpers/rte-packages.js';
import { makePartitionedImage } from '../helpers/partitioned-image.js';
import { endFailedJob, leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, updateMomConfig, withMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';
import { listRtes } from '../../src/catalogue/rte-admin.js';

let user: HostUser;
let server: ImageServer;
let mom: Mom;
let before: string[];

const catalogue = `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">
  <kb:BaseSystem rdf:about="#busybox" kb:name="vmbatch-test-guest">
    <kb:provides>Linux.</kb:provides>
  </kb:BaseSystem>
  <kb:BaseSystem rdf:about="#fedora" kb:name="Fedora-7"/>
  <kb:MetaPackage rdf:about="#vm" kb:name="VMLinux/vmbatch-test" kb:description="the busybox test guest">
    <kb:provides>vmbatch-test-guest</kb:provides>
    <kb:VirtualMachine>
      <kb:os>vmbatch-test-guest</kb:os>
      <kb:service>ssh</kb:service>
      <kb:Requirements><kb:mem_kb>200000</kb:mem_kb></kb:Requirements>
    </kb:VirtualMachine>
  </kb:MetaPackage>
  <kb:MetaPackage rdf:about="#hello" kb:name="APPS/TEST/HELLO-1.0">
    <kb:instance rdf:resource="#hello-tar"/>
  </kb:MetaPackage>
  <kb:TarPackage rdf:about="#hello-tar" kb:url="rtes/hello-1.0.tar.gz">
    <kb:basesystem rdf:resource="#busybox"/>
    <kb:depends rdf:resource="#lib"/>
    <kb:environ>HELLO_HOME=%BASEDIR%</kb:environ>
  </kb:TarPackage>
  <kb:MetaPackage rdf:about="#lib" kb:name="ENV/TEST/LIB-2.0">
    <kb:instance rdf:resource="#lib-tar"/>
  </kb:MetaPackage>
  <kb:TarPackage rdf:about="#lib-tar">
    <kb:url>rtes/moved-away/lib-2.0.tar</kb:url>
    <kb:url>rtes/lib-2.0.tar</kb:url>
    <kb:basesystem>vmbatch-test-guest</kb:basesystem>
  </kb:TarPackage>
  <kb:MetaPackage rdf:about="#data" kb:name="DATA/TEST/REFDATA-1">
    <kb:instance rdf:resource="#data-img"/>
  </kb:MetaPackage>
  <kb:ImagePackage rdf:about="#data-img" kb:url="rtes/refdata.img">
    <kb:basesystem rdf:resource="#busybox"/>
    <kb:mountpoint>/data/ref</kb:mountpoint>
  </kb:ImagePackage>
  <kb:MetaPackage rdf:about="#noinstall" kb:name="APPS/TEST/NOINSTALL-1"><kb:instance rdf:resource="#noinstall-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#noinstall-tar" kb:url="rtes/noinstall.tar"><kb:basesystem rdf:resource="#busybox"/></kb:TarPackage>
  <kb:MetaPackage rdf:about="#fails" kb:name="APPS/TEST/FAILS-1"><kb:instance rdf:resource="#fails-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#fails-tar" kb:url="rtes/fails.tar"><kb:basesystem rdf:resource="#busybox"/></kb:TarPackage>
  <kb:MetaPackage rdf:about="#fedora-only" kb:name="APPS/TEST/FEDORA-ONLY-1"><kb:instance rdf:resource="#fedora-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#fedora-tar" kb:url="rtes/fedora.tar"><kb:basesystem rdf:resource="#fedora"/></kb:TarPackage>
  <kb:MetaPackage rdf:about="#a" kb:name="CYCLE/A-1"><kb:instance rdf:resource="#a-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#a-tar" kb:url="rtes/a.tar"><kb:basesystem rdf:resource="#busybox"/><kb:depends rdf:resource="#b"/></kb:TarPackage>
  <kb:MetaPackage rdf:about="#b" kb:name="CYCLE/B-1"><kb:instance rdf:resource="#b-tar"/><kb:depends rdf:resource="#a"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#b-tar" kb:url="rtes/b.tar"><kb:basesystem rdf:resource="#busybox"/></kb:TarPackage>
</rdf:RDF>
`;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-rte-e2e-'));
  await makeRteTarball(
    join(dir, 'hello.tar.gz'),
    {
      // the install step runs in data/ and may use %BASEDIR% (DIR/pkg once installed)
      install: 'mkdir bin\nprintf "#!/bin/sh\\necho hello from %BASEDIR%\\n" > bin/hello\nchmod 755 bin/hello\necho installed > ../installed-by-install',
      runtime: { 0: 'touch %BASEDIR%/../stage0-ran', 1: 'PATH="%BASEDIR%/bin:$PATH"; export PATH', 2: 'echo "hello runtime stage 2"' },
    },
    true,
  );
  await makeRteTarball(join(dir, 'lib.tar'), { runtime: { 1: 'LIB_VERSION=2.0; export LIB_VERSION' }, data: { VERSION: '2.0\n' } });
  await makeRteImage(join(dir, 'refdata.img'), { runtime: { 1: 'REFDATA=%BASEDIR%; export REFDATA' }, data: { README: 'reference data 1\n' } });
  await makeRteTarball(join(dir, 'noinstall.tar'), { runtime: {}, noInstall: true });
  await makeRteTarball(join(dir, 'fails.tar'), { install: 'echo "cannot build the widget" >&2\nexit 3', runtime: {} });
  for (const [path, file] of [
    ['/rtes/hello-1.0.tar.gz', 'hello.tar.gz'],
    ['/rtes/lib-2.0.tar', 'lib.tar'],
    ['/rtes/refdata.img', 'refdata.img'],
    ['/rtes/noinstall.tar', 'noinstall.tar'],
    ['/rtes/fails.tar', 'fails.tar'],
  ] as const) {
    server.route(path, { kind: 'file', path: join(dir, file) });
  }
  server.route('/catalogue.rdf', { kind: 'data', data: Buffer.from(catalogue), etag: '"catalogue-1"' });
  server.route('/down.rdf', { kind: 'status', status: 503 });
  server.route('/broken.rdf', {
    kind: 'data',
    data: Buffer.from('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="urn:kb#">\n  <kb:MetaPackage kb:name="X">\n</rdf:RDF>\n'),
  });
  // the shipped test guest template realises the catalogue's VM (<vbcatalogue vm='VMLinux/vmbatch-test'/>)
  assert.match(readFileSync(join(domainsDir, 'testguest.xml'), 'utf8'), "<vbcatalogue vm='VMLinux/vmbatch-test'/>");
  mom = await setupMom({ config: { catalogue: { sources: [server.url('/catalogue.rdf')] } } });
  before = (await leftovers(mom)).domains;
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
});

const clean = async () => assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });

test('two jobs at once ask for an RTE with a dependency and an image package: one download each, installed in both guests', async () => {
  const jobs = ['501.vm', '502.vm'].map((jobId) => ({ jobId, user, resources: 'other=vbrte=APPS/TEST/HELLO-1.0+DATA/TEST/REFDATA-1' }));
  const scripts = jobs.map((job) =>
    writeJobScript(mom, job, '#!/bin/sh\nhello\necho "HELLO_HOME=$HELLO_HOME LIB_VERSION=$LIB_VERSION REFDATA=$REFDATA"\ncat "$REFDATA/README"\n' + 'ls /opt/vmbatch/rte/APPS/TEST/HELLO-1.0\n'),
  );
  const boots = await Promise.all(jobs.map((job, i) => runPrologue(mom, job, scripts[i]!)));
  try {
    for (const boot of boots) assert.is(boot.exitCode, 0, boot.stderr);
    // both prologues resolved the same plan; each package and the catalogue were fetched once
    const resolved = readFileSync(mom.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('msg="rtes resolved"'));
    assert.is(resolved.length, 2);
    for (const line of resolved) {
      assert.ok(line.endsWith('base=vmbatch-test-guest vm=VMLinux/vmbatch-test template=testguest packages="ENV/TEST/LIB-2.0 APPS/TEST/HELLO-1.0 DATA/TEST/REFDATA-1"'), line);
    }
    // LIB's first URL is gone (404): its mirror delivered it, once, for both jobs
    for (const path of ['/rtes/hello-1.0.tar.gz', '/rtes/moved-away/lib-2.0.tar', '/rtes/lib-2.0.tar', '/rtes/refdata.img', '/catalogue.rdf']) assert.is(server.requests(path), 1, path);
    const moved = server.url('/rtes/moved-away/lib-2.0.tar');
    assert.equal(
      readFileSync(mom.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('msg="download failed; trying the next URL"'))
        .map((l) => l.replace(/^.*? level=/, 'level=').replace(/ job=\S+/, '')),
      [`level=warn hook=prologue msg="download failed; trying the next URL" url=${moved} error="downloading ${moved} failed: the server answered 404 Not Found"`],
    );
    assert.equal(
      listRtes(join(mom.stateDir, 'cache'))
        .map((r) => [r.name, r.state, r.users.length])
        .sort(),
      [
        ['APPS/TEST/HELLO-1.0', 'INSTALLED', 2],
        ['DATA/TEST/REFDATA-1', 'INSTALLED', 2],
        ['ENV/TEST/LIB-2.0', 'INSTALLED', 2],
      ],
    );
    for (const [i, job] of jobs.entries()) {
      const run = await runJobStarter(mom, job, scripts[i]!);
      assert.is(run.exitCode, 0, run.stderr);
      const home = '/opt/vmbatch/rte/APPS/TEST/HELLO-1.0/pkg';
      assert.is(
        run.stdout,
        [
          `hello from ${home}`,
          `HELLO_HOME=${home} LIB_VERSION=2.0 REFDATA=/data/ref/data`,
          'reference data 1',
          'control',
          'install.log',
          'installed-by-install',
          'pkg',
          'stage0-ran',
          'hello runtime stage 2',
        ].join('\n'),
      );
    }
  } finally {
    for (const [i, job] of jobs.entries()) assert.is((await runEpilogue(mom, job, scripts[i]!, 0)).exitCode, 0);
  }
  assert.equal(
    listRtes(join(mom.stateDir, 'cache')).map((r) => r.users.length),
    [0, 0, 0],
    'uses released',
  );
  await clean();
});

test('ROOTSSH and DISK guests install them too; vbdomain picks among the templates realising the VM; a refresh the server answers 304 costs no download', async () => {
  const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
  const noCdrom = (t: string, method: string) =>
    t.replace('<vbpreparemethod>CDROM</vbpreparemethod>', `<vbpreparemethod>${method}</vbpreparemethod>`).replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '');
  const image = join(mom.root, 'partitioned.qcow2');
  await makePartitionedImage(image, [
    { sizeMiB: 16, label: 'vbhome' },
    { sizeMiB: 16, label: 'vbroot' },
    { sizeMiB: 8, label: 'vbjobs' },
  ]);
  const domains = {
    rootssh: noCdrom(shipped, 'ROOTSSH'),
    disk: noCdrom(shipped, 'DISK')
      .replace('/var/lib/vmbatch/guest/disk.qcow2', image)
      .replace('<devices>', "<devices>\n    <vbdisks>\n      <vbdisk name='rootdisk' dev='vda' partition='vda2'/>\n      <vbdisk name='jobdisk' dev='vda' partition='vda3'/>\n    </vbdisks>"),
  };
  const guest = testGuestDir;
  const config = { rootSsh: { privateKeyFile: `${guest}/root_ssh_key`, hostKeysFile: `${guest}/guest_host_key.pub` }, catalogue: { sources: [server.url('/catalogue.rdf')], refreshSeconds: 0 } };
  const unchanged = server.notModified('/catalogue.rdf');
  await withMom({ domains, config }, async (node) => {
    const nodeBefore = (await leftovers(node)).domains;
    for (const [jobId, domain] of [
      ['540.vm', 'rootssh'],
      ['541.vm', 'disk'],
    ] as const) {
      const job = { jobId, user, resources: `other=vbrte=APPS/TEST/HELLO-1.0+DATA/TEST/REFDATA-1:vbdomain=${domain}` };
      const script = writeJobScript(node, job, '#!/bin/sh\nhello\ncat "$REFDATA/README"\n');
      const pro = await runPrologue(node, job, script);
      try {
        assert.is(pro.exitCode, 0, `${domain}: ${pro.stderr}`);
        assert.match(readFileSync(node.logFile, 'utf8'), `msg="rtes resolved" base=vmbatch-test-guest vm=VMLinux/vmbatch-test template=${domain} `);
        const run = await runJobStarter(node, job, script);
        assert.is(run.stdout, 'hello from /opt/vmbatch/rte/APPS/TEST/HELLO-1.0/pkg\nreference data 1\nhello runtime stage 2', `${domain}: ${run.stderr}`);
      } finally {
        assert.is((await runEpilogue(node, job, script, 0)).exitCode, 0);
      }
    }
    assert.equal(await leftovers(node), { domains: nodeBefore, jobs: [], ports: [], attempts: [] });
    // this node's cache had no copy for the first job; the second job's refresh (refreshSeconds 0) was a 304
    const log = readFileSync(node.logFile, 'utf8');
    assert.equal([(log.match(/msg="catalogue fetched"/g) ?? []).length, (log.match(/msg="catalogue not modified"/g) ?? []).length], [1, 1]);
    assert.is(server.notModified('/catalogue.rdf') - unchanged, 1);
  });
});

// prologue runs that end before any guest boots
async function refused(jobId: string, resources: string): Promise<{ exitCode: number; stderr: string; notice: string }> {
  const job = { jobId, user, resources };
  const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
  const run = await runPrologue(mom, job, script);
  const notice = readFileSync(join(user.home, `vmbatch-${jobId}.err`), 'utf8');
  await endFailedJob(mom, job, script);
  return { ...run, notice };
}

test('unknown RTE, dependency cycle and a base system with no VM abort (1) with what the submitter can act on', async () => {
  const unknown = await refused('510.vm', 'other=vbrte=APPS/TEST/HELLO-9.9');
  assert.is(unknown.exitCode, 1);
  assert.is(
    unknown.stderr,
    "vmbatch: RTE_UNKNOWN: the runtime environment 'APPS/TEST/HELLO-9.9' is in no catalogue of this site (similar names: APPS/TEST/HELLO-1.0)\n" +
      '  hint: `vmbatch catalogue search WORD` lists what the catalogues offer; names are exact, e.g. APPS/BIO/WEKA-3.4.10\n' +
      'vmbatch: job 510.vm is aborted.',
  );
  assert.is(unknown.notice, unknown.stderr + '\n', 'the submitter reads the same in vmbatch-JOBID.err');
  const cycle = await refused('511.vm', 'other=vbrte=CYCLE/A-1');
  assert.is(cycle.exitCode, 1);
  assert.ok(cycle.stderr.startsWith("vmbatch: RTE_CYCLE: the catalogue's dependencies form a cycle: CYCLE/A-1 -> CYCLE/B-1 -> CYCLE/A-1\n"), cycle.stderr);
  const noVm = await refused('512.vm', 'other=vbrte=APPS/TEST/FEDORA-ONLY-1');
  assert.is(noVm.exitCode, 1);
  assert.is(
    noVm.stderr.split('\n').slice(0, 2).join('\n'),
    'vmbatch: RTE_NO_BASE: no base system with a virtual machine on this site has all of APPS/TEST/FEDORA-ONLY-1:\n' + '  - Fedora-7: no VirtualMachine MetaPackage of the catalogues provides it',
  );
  await clean();
});

test('a catalogue server that fails requeues (2); RDF that is not well-formed aborts (1) naming the place', async () => {
  updateMomConfig(mom, { catalogue: { sources: [server.url('/down.rdf')] } });
  try {
    await failingCatalogues();
  } finally {
    updateMomConfig(mom, { catalogue: { sources: [server.url('/catalogue.rdf')] } });
  }
  await clean();
});

async function failingCatalogues(): Promise<void> {
  const down = await refused('520.vm', 'other=vbrte=APPS/TEST/HELLO-1.0');
  assert.is(down.exitCode, 2);
  assert.ok(down.stderr.startsWith(`vmbatch: CATALOGUE_UNAVAILABLE: the software catalogue ${server.url('/down.rdf')} cannot be read and no earlier copy is cached: `), down.stderr);
  assert.ok(down.stderr.endsWith('vmbatch: job 520.vm is requeued (attempt 1 of 3).'), down.stderr);
  updateMomConfig(mom, { catalogue: { sources: [server.url('/broken.rdf')] } });
  const broken = await refused('521.vm', 'other=vbrte=APPS/TEST/HELLO-1.0');
  assert.is(broken.exitCode, 1);
  assert.ok(broken.stderr.startsWith(`vmbatch: CATALOGUE_XML_INVALID: the software catalogue ${server.url('/broken.rdf')} is not well-formed XML (line 3, column `), broken.stderr);
}

test("a tarball without control/install is refused on the host and marked FAILED; an install that fails in the guests of two different users' jobs too", async () => {
  const noInstall = await refused('530.vm', 'other=vbrte=APPS/TEST/NOINSTALL-1');
  assert.is(noInstall.exitCode, 1);
  assert.is(
    noInstall.stderr.split('\n').slice(0, 2).join('\n'),
    `vmbatch: RTE_PACKAGE_INVALID: the package of APPS/TEST/NOINSTALL-1 (${server.url('/rtes/noinstall.tar')}) is not a valid runtime environment:\n  - control/install is missing`,
  );
  const fails = await refused('531.vm', 'other=vbrte=APPS/TEST/FAILS-1');
  assert.is(fails.exitCode, 1);
  assert.ok(fails.stderr.includes('rte APPS/TEST/FAILS-1: control/install exited 3 (cannot build the widget)'), fails.stderr);
  const state = (name: string) => listRtes(join(mom.stateDir, 'cache')).find((r) => r.name === name)?.state;
  assert.is(state('APPS/TEST/NOINSTALL-1'), 'FAILED');
  // one user's guest is that user's word only
  assert.is(state('APPS/TEST/FAILS-1'), 'INSTALLED');
  const otherUser = await ensureHostUser('vbother', 31339, 31340);
  const job = { jobId: '7430.vm', user: otherUser, resources: 'other=vbrte=APPS/TEST/FAILS-1' };
  const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
  assert.is((await runPrologue(mom, job, script)).exitCode, 1);
  await endFailedJob(mom, job, script);
  assert.is(state('APPS/TEST/FAILS-1'), 'FAILED');
  // the next job is refused at once: no download, no guest
  const requests = server.requests('/rtes/fails.tar');
  const again = await refused('532.vm', 'other=vbrte=APPS/TEST/FAILS-1');
  assert.is(again.exitCode, 1);
  assert.ok(again.stderr.startsWith("vmbatch: RTE_FAILED: the runtime environment 'APPS/TEST/FAILS-1' is marked FAILED on this site since "), again.stderr);
  assert.ok(again.stderr.includes(": the installation failed in the guests of 2 different users' jobs; see the node's log\n"), again.stderr);
  assert.is(server.requests('/rtes/fails.tar'), requests);
  assert.not.ok(existsSync(join(mom.stateDir, 'jobs', '532.vm')));
  await clean();
});

test.run();
