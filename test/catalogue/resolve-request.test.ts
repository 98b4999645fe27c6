import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { indexCatalogues } from '../../src/catalogue/catalogue-index.js';
import { readCatalogue } from '../../src/catalogue/read-catalogue.js';
import { resolveRequest, type ResolveContext, type RteRequest } from '../../src/catalogue/resolve-request.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const rdf = (body: string) => `<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">\n${body}\n</rdf:RDF>\n`;
const tar = (id: string, base: string, extra = '') => `<kb:TarPackage rdf:about="#${id}" kb:url="${id}.tar.gz"><kb:basesystem rdf:resource="#${base}"/>${extra}</kb:TarPackage>`;
const meta = (id: string, name: string, instances: string[], extra = '') =>
  `<kb:MetaPackage rdf:about="#${id}" kb:name="${name}">${instances.map((i) => `<kb:instance rdf:resource="#${i}"/>`).join('')}${extra}</kb:MetaPackage>`;

const site = rdf(`
<kb:BaseSystem rdf:about="#deb12" kb:name="Debian-12"><kb:provides>Debian.</kb:provides><kb:provides>Linux.</kb:provides></kb:BaseSystem>
<kb:BaseSystem rdf:about="#debian" kb:name="Debian."/>
<kb:BaseSystem rdf:about="#ubuntu" kb:name="Ubuntu-7.0.4"><kb:provides>Debian.</kb:provides></kb:BaseSystem>
<kb:BaseSystem rdf:about="#centos" kb:name="CentOS-7"><kb:provides>Linux.</kb:provides></kb:BaseSystem>
<kb:MetaPackage rdf:about="#vmdeb" kb:name="VMLinux/Debian-12"><kb:provides>Debian-12</kb:provides>
  <kb:VirtualMachine><kb:os>Debian-12</kb:os><kb:Requirements><kb:mem_kb>500000</kb:mem_kb></kb:Requirements></kb:VirtualMachine></kb:MetaPackage>
<kb:MetaPackage rdf:about="#vmcentos" kb:name="VMLinux/CentOS-7">
  <kb:VirtualMachine><kb:os>CentOS-7</kb:os><kb:Requirements><kb:mem_kb>4000000</kb:mem_kb></kb:Requirements></kb:VirtualMachine></kb:MetaPackage>
${meta('weka', 'APPS/BIO/WEKA-3.4.10', ['weka-deb', 'weka-centos'])}
${tar('weka-deb', 'deb12', '<kb:depends rdf:resource="#jre"/>')}
${tar('weka-centos', 'centos')}
${meta('jre', 'ENV/Java/JRE-1.5.0', ['jre-deb'])}
${tar('jre-deb', 'deb12', '<kb:environ>JAVA_HOME=%BASEDIR%</kb:environ>')}
${meta('atlas', 'APPS/HEP/ATLAS-13.0.40', ['atlas-ubuntu'], '<kb:provides>APPS/HEP/ROOT</kb:provides>')}
${tar('atlas-ubuntu', 'ubuntu')}
${meta('generic', 'TOOLS/GENERIC-1', ['generic-tar'])}
${tar('generic-tar', 'debian')}
${meta('ca', 'ENV/CONFLICT-A', ['ca-tar'])}${tar('ca-tar', 'deb12', '<kb:environ>X=1</kb:environ>')}
${meta('cb', 'ENV/CONFLICT-B', ['cb-tar'])}${tar('cb-tar', 'deb12', '<kb:environ>X=2</kb:environ>')}
${meta('ia', 'IMG/A-1', ['ia-img'])}<kb:ImagePackage rdf:about="#ia-img" kb:url="a.img"><kb:basesystem rdf:resource="#deb12"/><kb:mountpoint>/data</kb:mountpoint></kb:ImagePackage>
${meta('ib', 'IMG/B-1', ['ib-img'])}<kb:ImagePackage rdf:about="#ib-img" kb:url="b.img"><kb:basesystem rdf:resource="#deb12"/><kb:mountpoint>/data/sub</kb:mountpoint></kb:ImagePackage>
${meta('denied', 'APPS/MATH/ELMER-5.0.2', ['denied-tar'])}${tar('denied-tar', 'deb12')}
${meta('needsdenied', 'APPS/MATH/SOLVER-1', ['nd-tar'])}${tar('nd-tar', 'deb12', '<kb:depends rdf:resource="#denied"/>')}
${meta('missing', 'APPS/MISSING-1', ['missing-tar'])}${tar('missing-tar', 'deb12', '<kb:depends>ENV/Nowhere-1</kb:depends>')}
${meta('deb', 'APPS/DEB-1', ['deb-pkg'])}<kb:DebianPackage rdf:about="#deb-pkg"><kb:package>hello</kb:package><kb:basesystem rdf:resource="#deb12"/></kb:DebianPackage>
<kb:MetaPackage rdf:about="#py" kb:name="ENV/PYTHON3" kb:command="python3"/>
${meta('cyc1', 'CYCLE/A-1', ['cyc1-tar'])}${tar('cyc1-tar', 'deb12', '<kb:depends rdf:resource="#cyc2"/>')}
${meta('cyc2', 'CYCLE/B-1', ['cyc2-tar'], '<kb:depends rdf:resource="#cyc3"/>')}${tar('cyc2-tar', 'deb12')}
${meta('cyc3', 'CYCLE/C-1', ['cyc3-tar'], '<kb:depends rdf:resource="#cyc1"/>')}${tar('cyc3-tar', 'deb12')}
`);

// a second catalogue: shadows WEKA, adds a package that depends by name on the first one's JRE
const extra = rdf(`
<kb:BaseSystem rdf:about="#deb12" kb:name="Debian-12"/>
${meta('weka', 'APPS/BIO/WEKA-3.4.10', ['weka2'])}${tar('weka2', 'deb12')}
${meta('tool', 'APPS/BIO/TOOL-2', ['tool-tar'])}${tar('tool-tar', 'deb12', '<kb:depends>ENV/Java/JRE-1.5.0</kb:depends>')}
`);

const index = indexCatalogues([readCatalogue(site, 'https://cat.example.org/site.rdf'), readCatalogue(extra, '/etc/vmbatch/extra.rdf')]);
const ctx: ResolveContext = {
  templates: [
    { name: 'debian', vms: ['VMLinux/Debian-12'], memoryKiB: 1048576 },
    { name: 'debian-big', vms: ['VMLinux/Debian-12'], memoryKiB: 4194304 },
    { name: 'centos-small', vms: ['VMLinux/CentOS-7'], memoryKiB: 524288 },
  ],
  rules: { allowBase: ['*'], denyBase: [], allowRte: ['*'], denyRte: ['APPS/MATH/ELMER-*'] },
  defaultDomain: 'debian',
};
const resolve = (request: RteRequest, c = ctx) => resolveRequest(index, request, c);
const names = (request: RteRequest) => resolve(request).packages.map((p) => `${p.name}${p.neededBy ? ` <- ${p.neededBy}` : ''}`);

test('a request resolves to the first base with a VM and a template; dependencies come first', () => {
  const r = resolve({ rtes: ['APPS/BIO/WEKA-3.4.10'] });
  assert.equal([r.base, r.vm, r.template], ['Debian-12', 'VMLinux/Debian-12', 'debian']);
  assert.equal(names({ rtes: ['APPS/BIO/WEKA-3.4.10'] }), ['ENV/Java/JRE-1.5.0 <- APPS/BIO/WEKA-3.4.10', 'APPS/BIO/WEKA-3.4.10']);
  assert.equal(r.packages[0], {
    kind: 'tar',
    name: 'ENV/Java/JRE-1.5.0',
    instance: 'https://cat.example.org/site.rdf#jre-deb',
    urls: ['https://cat.example.org/jre-deb.tar.gz'],
    environ: ['JAVA_HOME=%BASEDIR%'],
    neededBy: 'APPS/BIO/WEKA-3.4.10',
  });
});

test('the job chooses the template (vbdomain) among those realising the VM; one that does not is explained', async () => {
  assert.is(resolve({ rtes: ['APPS/BIO/WEKA-3.4.10'], domain: 'debian-big' }).template, 'debian-big');
  const e = await expectVmbatchError(() => resolve({ rtes: ['APPS/BIO/WEKA-3.4.10'], domain: 'centos-small' }), 'RTE_NO_BASE');
  assert.is(
    e.message,
    'no base system with a virtual machine on this site has all of APPS/BIO/WEKA-3.4.10:\n' +
      '  - Debian-12: the requested vbdomain=centos-small does not realise VMLinux/Debian-12 (templates that do: debian, debian-big)\n' +
      '  - CentOS-7: VMLinux/CentOS-7 needs 4000000 KiB of memory, more than template centos-small allows (524288 KiB)',
  );
});

test('a VM needing more memory than its template allows is the error when it is the only way', async () => {
  const e = await expectVmbatchError(() => resolve({ rtes: ['APPS/BIO/WEKA-3.4.10'], base: 'CentOS-7' }), 'RTE_VM_MEMORY');
  assert.is(e.message, 'the virtual machine VMLinux/CentOS-7 needs 4000000 KiB of memory, but its domain template centos-small allows at most 524288 KiB');
  assert.is(e.hint, "the site admin must raise the template's <vbsize maxmemory> (or its <memory> where the memory is fixed), or the catalogue's kb:mem_kb is wrong");
});

test('a name provided by another package resolves to it; a base with no VM is reported as such', async () => {
  const e = await expectVmbatchError(() => resolve({ rtes: ['APPS/HEP/ROOT'] }), 'RTE_NO_BASE');
  assert.is(e.message, 'no base system with a virtual machine on this site has all of APPS/HEP/ROOT:\n  - Ubuntu-7.0.4: no VirtualMachine MetaPackage of the catalogues provides it');
  const base = await expectVmbatchError(() => resolve({ rtes: ['APPS/BIO/WEKA-3.4.10'], base: 'Solaris-10' }), 'RTE_NO_BASE');
  assert.is(base.message, "no base system with a virtual machine on this site has all of APPS/BIO/WEKA-3.4.10:\n  - no BaseSystem of the catalogues is named 'Solaris-10' or provides it");
});

test('an instance for a generic base (Debian.) runs on a base that provides it; a base request by what it provides', () => {
  assert.is(resolve({ rtes: ['TOOLS/GENERIC-1'] }).base, 'Debian-12');
  assert.is(resolve({ rtes: ['APPS/BIO/WEKA-3.4.10'], base: 'Linux.' }).base, 'Debian-12');
});

test('conflicts: one variable set to two values, an image mounted over another', async () => {
  const env = await expectVmbatchError(() => resolve({ rtes: ['ENV/CONFLICT-A', 'ENV/CONFLICT-B'] }), 'RTE_CONFLICT');
  assert.is(env.message, 'the requested runtime environments cannot be used together:\n  - ENV/CONFLICT-A sets X=1, ENV/CONFLICT-B sets X=2');
  const mounts = await expectVmbatchError(() => resolve({ rtes: ['IMG/A-1', 'IMG/B-1'] }), 'RTE_CONFLICT');
  assert.is(mounts.message, 'the requested runtime environments cannot be used together:\n  - IMG/A-1 is mounted at /data and IMG/B-1 at /data/sub: one would hide the other');
});

test('cycles, missing dependencies, refused names and unknown names are errors with their chain', async () => {
  assert.is((await expectVmbatchError(() => resolve({ rtes: ['CYCLE/A-1'] }), 'RTE_CYCLE')).message, "the catalogue's dependencies form a cycle: CYCLE/A-1 -> CYCLE/B-1 -> CYCLE/C-1 -> CYCLE/A-1");
  assert.is(
    (await expectVmbatchError(() => resolve({ rtes: ['APPS/MISSING-1'] }), 'RTE_MISSING_DEPENDENCY')).message,
    "APPS/MISSING-1 depends on 'ENV/Nowhere-1', which is in no catalogue of this site",
  );
  assert.is(
    (await expectVmbatchError(() => resolve({ rtes: ['APPS/MATH/ELMER-5.0.2'] }), 'RTE_DENIED')).message,
    "the runtime environment 'APPS/MATH/ELMER-5.0.2' is not allowed on this site (denyRte 'APPS/MATH/ELMER-*' matches it)",
  );
  assert.is(
    (await expectVmbatchError(() => resolve({ rtes: ['APPS/MATH/SOLVER-1'] }), 'RTE_DENIED')).message,
    "the runtime environment 'APPS/MATH/ELMER-5.0.2' is not allowed on this site (denyRte 'APPS/MATH/ELMER-*' matches it; needed by APPS/MATH/SOLVER-1)",
  );
  assert.is(
    (await expectVmbatchError(() => resolve({ rtes: ['APPS/BIO/WEKA-3.4.11'] }), 'RTE_UNKNOWN')).message,
    "the runtime environment 'APPS/BIO/WEKA-3.4.11' is in no catalogue of this site (similar names: APPS/BIO/WEKA-3.4.10)",
  );
  const allowOnly = { ...ctx, rules: { ...ctx.rules, allowRte: ['ENV/*'] } };
  assert.is(
    (await expectVmbatchError(() => resolve({ rtes: ['APPS/BIO/WEKA-3.4.10'] }, allowOnly), 'RTE_DENIED')).message,
    "the runtime environment 'APPS/BIO/WEKA-3.4.10' is not allowed on this site (no allowRte pattern matches it (allowRte: 'ENV/*'))",
  );
  const denyBase = { ...ctx, rules: { ...ctx.rules, denyBase: ['Debian-*'] } };
  assert.match(
    (await expectVmbatchError(() => resolve({ rtes: ['APPS/BIO/WEKA-3.4.10'] }, denyBase), 'RTE_NO_BASE')).message,
    "  - Debian-12: not allowed on this site (denyBase 'Debian-*' matches it)",
  );
});

test('a DebianPackage is not installed; a command-only package is checked in the guest; a VM is not an RTE', async () => {
  assert.is(
    (await expectVmbatchError(() => resolve({ rtes: ['APPS/DEB-1'] }), 'RTE_NO_BASE')).message,
    'no base system with a virtual machine on this site has all of APPS/DEB-1:\n  - Debian-12: APPS/DEB-1 has only a DebianPackage for Debian-12, which vmbatch does not install',
  );
  assert.equal(resolve({ rtes: ['ENV/PYTHON3', 'APPS/BIO/WEKA-3.4.10'] }).packages[0], { kind: 'command', name: 'ENV/PYTHON3', command: 'python3', neededBy: undefined });
  assert.is(
    (await expectVmbatchError(() => resolve({ rtes: ['VMLinux/Debian-12'] }), 'RTE_UNSUPPORTED')).message,
    "the runtime environment 'VMLinux/Debian-12' cannot be provided by vmbatch: it is a virtual machine; request the software to run in it (the VM is chosen for it)",
  );
});

test('several catalogues: the first listed wins a name; a later one depends by name on an earlier one', () => {
  assert.equal(index.shadowed, ['BaseSystem Debian-12 of /etc/vmbatch/extra.rdf', 'MetaPackage APPS/BIO/WEKA-3.4.10 of /etc/vmbatch/extra.rdf']);
  const r = resolve({ rtes: ['APPS/BIO/TOOL-2'] });
  assert.equal(
    r.packages.map((p) => (p.kind === 'tar' ? p.urls[0] : '')),
    ['https://cat.example.org/jre-deb.tar.gz', 'file:///etc/vmbatch/tool-tar.tar.gz'],
  );
});

test.run();
