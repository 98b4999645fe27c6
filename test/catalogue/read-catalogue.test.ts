import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { baseSystemSchema, metaPackageSchema, tarPackageSchema, type Catalogue, type InstancePackage } from '../../src/catalogue/catalogue-model.js';
import { readRdfXml } from '../../src/catalogue/rdf-xml.js';
import { readCatalogue } from '../../src/catalogue/read-catalogue.js';
import { compileZodCheck } from '../../src/catalogue/compiled-zod-check.js';
import { parseXmlElements, startTag } from '../../src/catalogue/xml-elements.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { repoRoot } from '../helpers/paths.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'catalogues');
const fixture = (name: string) => {
  const path = join(fixtures, name);
  return { path, url: pathToFileURL(path).href, text: readFileSync(path, 'utf8') };
};

const source = '/etc/vmbatch/cat.rdf';
const kb = 'http://www.nordugrid.org/ws/schemas/knowarc#';
// the body starts on line 3
const rdf = (body: string, rootAttributes = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" xmlns:kb="${kb}"${rootAttributes}>
${body}
</rdf:RDF>
`;
const read = (body: string, from = source) => readCatalogue(rdf(body), from);
const problemsOf = async (text: string, from = source) => (await expectVmbatchError(() => readCatalogue(text, from), 'CATALOGUE_INVALID')).message;
const at = (line: number, column: number, element: string, from = source) => ({ source: from, line, column, element });
const noWarnings = (c: Catalogue) => assert.equal(c.warnings, []);
const urlsOf = (i: InstancePackage | undefined) => (i && 'urls' in i ? i.urls : undefined);

test("the GridFactory note's examples read fully", () => {
  const { path, url, text } = fixture('gridfactory-seed.rdf');
  const c = readCatalogue(text, path);
  const ref = (id: string) => ({ uri: `${url}${id}`, text: id });
  assert.is(c.source, path);
  assert.is(c.base, url);
  noWarnings(c);
  assert.equal(c.metaPackages, [
    {
      uri: `${url}#1`,
      at: at(18, 1, '<kb:MetaPackage rdf:about="#1" kb:name="APPS/HEP/ATLAS/ATLAS-13.0.40">', path),
      type: 'MetaPackage',
      name: 'APPS/HEP/ATLAS/ATLAS-13.0.40',
      instances: [ref('#2')],
      provides: ['APPS/HEP/ROOT', 'APPS/HEP/GEANT'],
      depends: [],
      tags: [],
    },
    {
      uri: `${url}#4`,
      at: at(36, 1, '<kb:MetaPackage rdf:about="#4" kb:name="ENV/Java/JRE-1.5.0">', path),
      type: 'MetaPackage',
      name: 'ENV/Java/JRE-1.5.0',
      instances: [ref('#5')],
      provides: [],
      depends: [],
      tags: [],
    },
    {
      uri: `${url}#5`,
      at: at(47, 1, '<kb:MetaPackage rdf:about="#5" kb:description="Virtual machine running Fedora 7" kb:name="VMLinux/Fedora-7">', path),
      type: 'MetaPackage',
      name: 'VMLinux/Fedora-7',
      description: 'Virtual machine running Fedora 7',
      instances: [ref('#6')],
      provides: ['Linux.', 'Fedora.'],
      depends: [],
      tags: [],
      virtualMachine: { os: 'Fedora-7', inPorts: [], outPorts: [80, 443], services: ['ssh'], privileges: ['administrator'], memKb: 500000 },
    },
    {
      uri: `${url}#7`,
      at: at(67, 1, '<kb:MetaPackage rdf:about="#7" kb:description="VirtualBox virtual machine engine" kb:name="VMVirtualBox">', path),
      type: 'MetaPackage',
      name: 'VMVirtualBox',
      description: 'VirtualBox virtual machine engine',
      instances: [],
      provides: [],
      depends: [],
      tags: [],
      registryKey: 'HKLMSOFTWARE\\innotek\\VirtualBox:installdir',
      command: 'VBoxManage',
    },
  ]);
  assert.equal(c.instances, [
    {
      uri: `${url}#2`,
      at: at(24, 1, '<kb:TarPackage rdf:about="#2">', path),
      type: 'TarPackage',
      urls: ['https://my.server/rtes/atlas-13.0.40.tar.gz'],
      basesystem: ref('#3'),
      depends: [ref('#4')],
      environ: [],
    },
    {
      uri: `${url}#2-image`,
      at: at(40, 1, '<kb:ImagePackage rdf:about="#2-image">', path),
      type: 'ImagePackage',
      urls: ['https://my.server/rtes/atlas-13.0.40.img'],
      basesystem: ref('#3'),
      depends: [ref('#4')],
      mountpoint: '/tmp/atlas.quiqt14116',
    },
    {
      uri: `${url}#6`,
      at: at(63, 1, '<kb:TarPackage rdf:about="#6" kb:url="https://my.server/rtes/VM/Fedora-7.img.gz">', path),
      type: 'TarPackage',
      urls: ['https://my.server/rtes/VM/Fedora-7.img.gz'],
      basesystem: ref('#3'),
      depends: [],
      environ: [],
    },
  ]);
  assert.equal(c.baseSystems, [
    {
      uri: `${url}#3`,
      at: at(30, 1, '<kb:BaseSystem rdf:about="#3" kb:name="Ubuntu-7.0.4">', path),
      type: 'BaseSystem',
      name: 'Ubuntu-7.0.4',
      provides: ['Linux.', 'Debian.'],
      description: 'Ubuntu Linux 7.0.4',
    },
  ]);
  assert.equal(c.tags, []);
});

test('a Janitor catalogue as Protégé writes it reads fully (DTD entities, rdf:Description with rdf:type)', () => {
  const { path, text } = fixture('janitor-seed.rdf');
  const c = readCatalogue(text, path);
  const k = (n: number) => `http://knowarc.eu/kb#knowarc_Instance_${n}`;
  const ref = (n: number) => ({ uri: k(n), text: k(n) });
  const tag = (n: number, line: number) => at(line, 1, `<rdf:Description rdf:about="&kb;knowarc_Instance_${n}">`, path);
  noWarnings(c);
  assert.equal(c.metaPackages, [
    {
      uri: k(10),
      at: tag(10, 38),
      type: 'MetaPackage',
      name: 'APPS/BIO/WEKA-3.4.10',
      label: 'APPS/BIO/WEKA-3.4.10',
      lastUpdate: '2008-02-01',
      description: 'Weka: data mining software in Java',
      homepage: 'http://www.cs.waikato.ac.nz/ml/weka/',
      instances: [ref(11)],
      provides: [],
      depends: [],
      tags: [ref(2)],
    },
    {
      uri: k(20),
      at: tag(20, 58),
      type: 'MetaPackage',
      name: 'ENV/Java/JRE-1.5.0',
      label: 'ENV/Java/JRE-1.5.0',
      instances: [ref(21), ref(22)],
      provides: [],
      depends: [],
      tags: [],
    },
  ]);
  assert.equal(c.instances, [
    {
      uri: k(11),
      at: tag(11, 48),
      type: 'TarPackage',
      label: 'Debian Etch (tar based): WEKA-3.4.10',
      urls: ['http://dre.knowarc.eu:8080/packages/weka-3.4.10.tar.gz', 'http://www.knowarc.eu/mirror/weka-3.4.10.tar.gz'],
      basesystem: ref(0),
      depends: [ref(20)],
      environ: ['WEKA_HOME=%BASEDIR%/weka-3-4-10', 'CLASSPATH=%BASEDIR%/weka-3-4-10/weka.jar'],
    },
    {
      uri: k(21),
      at: tag(21, 65),
      type: 'TarPackage',
      label: 'Debian Etch (tar based): JRE-1.5.0',
      urls: ['http://dre.knowarc.eu:8080/packages/jre-1.5.0_14.tar.gz'],
      basesystem: ref(0),
      depends: [],
      environ: ['JAVA_HOME=%BASEDIR%/jre1.5.0_14'],
    },
    {
      uri: k(22),
      at: tag(22, 72),
      type: 'DebianPackage',
      label: 'Debian Sid (package based): JRE-1.5.0',
      packages: ['sun-java5-jre', 'sun-java5-bin'],
      basesystem: ref(1),
      depends: [],
    },
  ]);
  assert.equal(c.baseSystems, [
    {
      uri: k(0),
      at: tag(0, 15),
      type: 'BaseSystem',
      name: 'debian::etch',
      label: 'debian::etch',
      provides: [],
      description: 'Debian GNU/Linux 4.0 (etch) on i386',
      url: 'http://www.debian.org/releases/etch/',
    },
    { uri: k(1), at: tag(1, 24), type: 'BaseSystem', name: 'debian::sid', label: 'debian::sid', provides: [], url: 'http://www.debian.org/releases/sid/' },
  ]);
  assert.equal(c.tags, [{ uri: k(2), at: tag(2, 32), type: 'Tag', name: 'bioinformatics', label: 'bioinformatics', description: 'Analysis of biological data' }]);
});

test("XML that is not well-formed: the note's own registryKey/registrykey mismatch, with line and column", async () => {
  const { path, text } = fixture('broken-mismatched-tag.rdf');
  const error = await expectVmbatchError(() => readCatalogue(text, path), 'CATALOGUE_XML_INVALID');
  assert.is(
    error.message,
    `the software catalogue ${path} is not well-formed XML (line 6, column 77): the end tag </kb:registrykey> does not match the start tag <kb:registryKey> at line 6, column 3`,
  );
  assert.equal(error.params, { source: path, line: 6, column: 77, reason: 'the end tag </kb:registrykey> does not match the start tag <kb:registryKey> at line 6, column 3' });
});

test("other XML errors keep saxes' reason without its position prefix", async () => {
  const xmlError = async (text: string) => (await expectVmbatchError(() => readCatalogue(text, source), 'CATALOGUE_XML_INVALID')).message;
  assert.is(await xmlError(rdf('<kb:Tag rdf:about="#t" kb:name="&bio;"/>')), 'the software catalogue /etc/vmbatch/cat.rdf is not well-formed XML (line 3, column 37): undefined entity');
  assert.is(await xmlError(rdf('<xx:Tag rdf:about="#t"/>')), 'the software catalogue /etc/vmbatch/cat.rdf is not well-formed XML (line 3, column 24): unbound namespace prefix: "xx"');
  assert.is(
    await xmlError(rdf('<kb:Tag rdf:about="#t">').replace('</rdf:RDF>\n', '')),
    'the software catalogue /etc/vmbatch/cat.rdf is not well-formed XML (line 4, column 1): the document ends before the end tag of <kb:Tag> (line 3, column 1)',
  );
  assert.is(await xmlError(''), 'the software catalogue /etc/vmbatch/cat.rdf is not well-formed XML (line 1, column 1): document must contain a root element');
});

test('a MetaPackage without kb:name', async () => {
  assert.is(
    await problemsOf(rdf('<kb:MetaPackage rdf:about="#1">\n  <kb:provides>APPS/HEP/ROOT</kb:provides>\n</kb:MetaPackage>')),
    'the software catalogue /etc/vmbatch/cat.rdf is invalid:\n' +
      '  - /etc/vmbatch/cat.rdf:3:1 <kb:MetaPackage rdf:about="#1">: kb:name is missing (a MetaPackage needs a name such as APPS/HEP/ATLAS/ATLAS-13.0.40)',
  );
});

test('a TarPackage without kb:url', async () => {
  const body = [
    '  <kb:MetaPackage rdf:about="#5" kb:name="VMLinux/Fedora-7">',
    '    <kb:instance rdf:resource="#6"/>',
    '    <kb:VirtualMachine>',
    '      <kb:os>Fedora-7</kb:os>',
    '      <kb:out_port>80</kb:out_port>',
    '      <kb:service>ssh</kb:service>',
    '      <kb:Requirements>',
    '        <kb:mem_kb>500000</kb:mem_kb>',
    '      </kb:Requirements>',
    '    </kb:VirtualMachine>',
    '  </kb:MetaPackage>',
    '  <kb:TarPackage rdf:about="#6">',
    '    <kb:basesystem rdf:resource="#3"/>',
    '  </kb:TarPackage>',
  ].join('\n');
  const error = await expectVmbatchError(() => read(body), 'CATALOGUE_INVALID');
  assert.equal(error.params, {
    source,
    problems: ['/etc/vmbatch/cat.rdf:14:3 <kb:TarPackage rdf:about="#6">: kb:url is missing (a TarPackage needs the URL of its tarball)'],
  });
});

test('a kb:mem_kb or port that is not a number', async () => {
  assert.is(
    await problemsOf(
      rdf(`<kb:MetaPackage rdf:about="#5" kb:name="VMLinux/Fedora-7">
  <kb:VirtualMachine>
    <kb:in_port>22</kb:in_port>
    <kb:out_port>http</kb:out_port>
    <kb:out_port>70000</kb:out_port>
    <kb:Requirements><kb:mem_kb>500 MB</kb:mem_kb></kb:Requirements>
  </kb:VirtualMachine>
</kb:MetaPackage>`),
    ),
    'the software catalogue /etc/vmbatch/cat.rdf is invalid:\n' +
      "  - /etc/vmbatch/cat.rdf:6:5 <kb:out_port>: kb:out_port is 'http', not a port number (0 to 65535)\n" +
      "  - /etc/vmbatch/cat.rdf:7:5 <kb:out_port>: kb:out_port is '70000', not a port number (0 to 65535)\n" +
      "  - /etc/vmbatch/cat.rdf:8:22 <kb:mem_kb>: kb:mem_kb is '500 MB', not a whole number of KiB",
  );
});

test('the same rdf:about twice (and the same rdf:ID)', async () => {
  assert.is(
    await problemsOf(
      rdf(`<kb:BaseSystem rdf:about="#3" kb:name="Ubuntu-7.0.4"/>
<kb:BaseSystem rdf:about="#3" kb:name="Debian-12"/>
<kb:Tag rdf:ID="bio" kb:name="bio"/>
<kb:Tag rdf:about="#bio" kb:name="biology"/>`),
    ),
    'the software catalogue /etc/vmbatch/cat.rdf is invalid:\n' +
      '  - /etc/vmbatch/cat.rdf:4:1 <kb:BaseSystem rdf:about="#3" kb:name="Debian-12"/>: rdf:about="#3" is used again (first at line 3, column 1); each node needs an identifier of its own\n' +
      '  - /etc/vmbatch/cat.rdf:6:1 <kb:Tag rdf:about="#bio" kb:name="biology"/>: rdf:about="#bio" is used again (first at line 5, column 1); each node needs an identifier of its own',
  );
});

test('every problem of a catalogue is reported at once, in file order', async () => {
  const { path, text } = fixture('broken-several-problems.rdf');
  const error = await expectVmbatchError(() => readCatalogue(text, path), 'CATALOGUE_INVALID');
  assert.equal(error.params, {
    source: path,
    problems: [
      `${path}:5:3 <kb:MetaPackage rdf:about="#1">: kb:name is missing (a MetaPackage needs a name such as APPS/HEP/ATLAS/ATLAS-13.0.40)`,
      `${path}:8:3 <kb:TarPackage rdf:about="#2">: kb:url is missing (a TarPackage needs the URL of its tarball)`,
      `${path}:12:5 <kb:instance rdf:resource="#9"/>: kb:instance refers to '#9', which is not defined in this catalogue`,
      `${path}:14:7 <kb:in_port>: kb:in_port is 'ssh', not a port number (0 to 65535)`,
      `${path}:16:9 <kb:mem_kb>: kb:mem_kb is 'half a gig', not a whole number of KiB`,
      `${path}:20:3 <kb:TarPackage rdf:about="#2" kb:url="ftp://old.server/rtes/vm.tar.gz">: rdf:about="#2" is used again (first at line 8, column 3); each node needs an identifier of its own`,
      `${path}:20:3 <kb:TarPackage rdf:about="#2" kb:url="ftp://old.server/rtes/vm.tar.gz">: kb:url 'ftp://old.server/rtes/vm.tar.gz' is not an http(s) or file URL, nor a path relative to the catalogue`,
      `${path}:23:3 <kb:MetaPackage rdf:about="#4" kb:name="APPS/GEN/TOOL-1.0">: kb:name is given twice ('APPS/GEN/TOOL-1.0', then 'APPS/GEN/TOOL-1.1'); a node has one name`,
      `${path}:26:3 <kb:MetaPackage rdf:about="#5" kb:name="VMLinux/Debian-12"/>: the MetaPackage name 'VMLinux/Debian-12' is defined again (first at line 11, column 3); a catalogue defines each MetaPackage once`,
      `${path}:29:5 <kb:mountpoint>: kb:mountpoint '/opt/../etc' is not an absolute path without '..'`,
    ],
  });
  assert.is(error.message.split('\n')[0], `the software catalogue ${path} is invalid:`);
  assert.is(error.message.split('\n').length, 11);
});

test('an instance written inline inside kb:instance is defined there and referred to', () => {
  const c = read(`<kb:MetaPackage rdf:about="#1" kb:name="APPS/HEP/ATLAS/ATLAS-13.0.40">
  <kb:instance>
    <kb:TarPackage rdf:about="#2" kb:url="https://my.server/rtes/atlas-13.0.40.tar.gz">
      <kb:basesystem rdf:resource="#3"/>
    </kb:TarPackage>
  </kb:instance>
  <kb:instance><kb:ImagePackage kb:url="atlas.img"><kb:basesystem>Ubuntu-7.0.4</kb:basesystem></kb:ImagePackage></kb:instance>
</kb:MetaPackage>`);
  noWarnings(c);
  assert.equal(c.metaPackages[0]!.instances, [
    { uri: 'file:///etc/vmbatch/cat.rdf#2', text: '#2' },
    { uri: '_:b1', text: '_:b1' },
  ]);
  assert.equal(c.instances, [
    {
      uri: 'file:///etc/vmbatch/cat.rdf#2',
      at: at(5, 5, '<kb:TarPackage rdf:about="#2" kb:url="https://my.server/rtes/atlas-13.0.40.tar.gz">'),
      type: 'TarPackage',
      urls: ['https://my.server/rtes/atlas-13.0.40.tar.gz'],
      basesystem: { uri: 'file:///etc/vmbatch/cat.rdf#3', text: '#3' },
      depends: [],
      environ: [],
    },
    {
      uri: '_:b1',
      at: at(9, 16, '<kb:ImagePackage kb:url="atlas.img">'),
      type: 'ImagePackage',
      urls: ['file:///etc/vmbatch/atlas.img'],
      basesystem: { text: 'Ubuntu-7.0.4' },
      depends: [],
    },
  ]);
});

test('rdf:parseType="Resource" and property attributes on an empty property element', () => {
  const c = read(`<kb:MetaPackage rdf:about="#5" kb:name="VMLinux/Fedora-7">
  <kb:VirtualMachine rdf:parseType="Resource">
    <kb:os>Fedora-7</kb:os>
    <kb:in_port>22</kb:in_port>
    <kb:Requirements kb:mem_kb="1048576" kb:out_port="443"/>
  </kb:VirtualMachine>
</kb:MetaPackage>
<kb:MetaPackage rdf:about="#8" kb:name="VMLinux/Debian-12">
  <kb:VirtualMachine kb:os="Debian-12"/>
</kb:MetaPackage>
<kb:MetaPackage rdf:about="#9" kb:name="VMLinux/Anything">
  <kb:VirtualMachine/>
</kb:MetaPackage>`);
  noWarnings(c);
  assert.equal(
    c.metaPackages.map((m) => m.virtualMachine),
    [
      { os: 'Fedora-7', inPorts: [22], outPorts: [443], services: [], privileges: [], memKb: 1048576 },
      { os: 'Debian-12', inPorts: [], outPorts: [], services: [], privileges: [] },
      { inPorts: [], outPorts: [], services: [], privileges: [] },
    ],
  );
});

test('xml:base: node URIs and relative kb:url resolve against it, nested xml:base against the outer one', () => {
  const c = readCatalogue(
    rdf(
      `<kb:MetaPackage rdf:about="#1" kb:name="APPS/BIO/WEKA-3.4.10"><kb:instance rdf:resource="#2"/></kb:MetaPackage>
<kb:TarPackage rdf:about="#2" kb:url="weka.tar.gz"><kb:basesystem rdf:resource="base-systems.rdf#debian-12"/></kb:TarPackage>
<kb:TarPackage rdf:about="#3" xml:base="../mirror/pool/"><kb:url>weka.tar.gz</kb:url><kb:basesystem>Debian-12</kb:basesystem></kb:TarPackage>`,
      ' xml:base="https://cat.example.org/rtes/catalogue.rdf"',
    ),
    source,
  );
  noWarnings(c);
  assert.is(c.base, 'https://cat.example.org/rtes/catalogue.rdf');
  assert.equal(c.metaPackages[0]!.instances, [{ uri: 'https://cat.example.org/rtes/catalogue.rdf#2', text: '#2' }]);
  assert.equal(
    c.instances.map((i) => [i.uri, urlsOf(i), i.basesystem]),
    [
      [
        'https://cat.example.org/rtes/catalogue.rdf#2',
        ['https://cat.example.org/rtes/weka.tar.gz'],
        { uri: 'https://cat.example.org/rtes/base-systems.rdf#debian-12', text: 'base-systems.rdf#debian-12' },
      ],
      ['https://cat.example.org/mirror/pool/#3', ['https://cat.example.org/mirror/pool/weka.tar.gz'], { text: 'Debian-12' }],
    ],
  );
});

test('a relative kb:url resolves against the catalogue: a file path, or the URL it was fetched from', () => {
  const body = `<kb:TarPackage rdf:about="#2" kb:url="weka.tar.gz">
  <kb:url>../mirror/weka.tar.gz</kb:url>
  <kb:url rdf:resource="file:///srv/rtes/weka.tar.gz"/>
  <kb:basesystem>Debian-12</kb:basesystem>
</kb:TarPackage>`;
  assert.equal(urlsOf(read(body).instances[0]), ['file:///etc/vmbatch/weka.tar.gz', 'file:///etc/mirror/weka.tar.gz', 'file:///srv/rtes/weka.tar.gz']);
  const fetched = read(body, 'https://cat.example.org/rtes/catalogue.rdf');
  assert.is(fetched.base, 'https://cat.example.org/rtes/catalogue.rdf');
  assert.equal(urlsOf(fetched.instances[0]), ['https://cat.example.org/rtes/weka.tar.gz', 'https://cat.example.org/mirror/weka.tar.gz', 'file:///srv/rtes/weka.tar.gz']);
  assert.is(fetched.instances[0]!.at.source, 'https://cat.example.org/rtes/catalogue.rdf');
});

test('references by name are kept as written for the resolver; only a kb:instance that cannot be a name must be in the file', async () => {
  const c = read(`<kb:MetaPackage rdf:about="#1" kb:name="APPS/BIO/WEKA-3.4.10">
  <kb:instance rdf:resource="APPS/BIO/WEKA-3.4.10-tar"/>
  <kb:instance>APPS/BIO/WEKA-3.4.10-image</kb:instance>
  <kb:depends>ENV/Java/JRE-1.5.0</kb:depends>
  <kb:depends rdf:resource="ENV/Java/JRE-1.6.0"/>
  <kb:tag> bioinformatics </kb:tag>
</kb:MetaPackage>
<kb:TarPackage rdf:about="#2" kb:url="weka.tar.gz">
  <kb:basesystem>Debian-12</kb:basesystem>
  <kb:depends rdf:resource="http://other.example.org/catalogue.rdf#jre"/>
</kb:TarPackage>
<kb:DebianPackage rdf:about="#3"><kb:package>weka</kb:package><kb:basesystem rdf:resource="debian::etch"/></kb:DebianPackage>`);
  noWarnings(c);
  const m = c.metaPackages[0]!;
  assert.equal(m.instances, [{ uri: 'file:///etc/vmbatch/APPS/BIO/WEKA-3.4.10-tar', text: 'APPS/BIO/WEKA-3.4.10-tar' }, { text: 'APPS/BIO/WEKA-3.4.10-image' }]);
  assert.equal(m.depends, [{ text: 'ENV/Java/JRE-1.5.0' }, { uri: 'file:///etc/vmbatch/ENV/Java/JRE-1.6.0', text: 'ENV/Java/JRE-1.6.0' }]);
  assert.equal(m.tags, [{ text: 'bioinformatics' }]);
  assert.equal(c.instances[0]!.basesystem, { text: 'Debian-12' });
  assert.equal(c.instances[0]!.depends, [{ uri: 'http://other.example.org/catalogue.rdf#jre', text: 'http://other.example.org/catalogue.rdf#jre' }]);
  assert.equal(c.instances[1]!.basesystem, { uri: 'debian::etch', text: 'debian::etch' });

  assert.is(
    await problemsOf(
      rdf(`<kb:MetaPackage rdf:about="#1" kb:name="A">
  <kb:instance rdf:resource="#2"/>
  <kb:instance rdf:resource="http://other.example.org/catalogue.rdf#2"/>
  <kb:instance rdf:resource=""/>
</kb:MetaPackage>`),
    ),
    'the software catalogue /etc/vmbatch/cat.rdf is invalid:\n' +
      '  - /etc/vmbatch/cat.rdf:4:3 <kb:instance rdf:resource="#2"/>: kb:instance refers to \'#2\', which is not defined in this catalogue\n' +
      '  - /etc/vmbatch/cat.rdf:5:3 <kb:instance rdf:resource="http://other.example.org/catalogue.rdf#2"/>: kb:instance refers to \'http://other.example.org/catalogue.rdf#2\', which is not defined in this catalogue\n' +
      '  - /etc/vmbatch/cat.rdf:6:3 <kb:instance rdf:resource=""/>: kb:instance has an empty rdf:resource (give the rdf:about of a node, or its name)',
  );
});

test('element names the seeds spell differently: registryKey, RegistryKey, registrykey; lastupdate and lastupdated', () => {
  const c =
    read(`<kb:MetaPackage rdf:about="#7" kb:name="VMVirtualBox"><kb:registryKey>HKLM\\SOFTWARE\\innotek\\VirtualBox:installdir</kb:registryKey><kb:lastupdate>2009-10-01</kb:lastupdate></kb:MetaPackage>
<kb:MetaPackage rdf:about="#8" kb:name="VMVirtualBox-2"><kb:RegistryKey>HKLM\\SOFTWARE\\Oracle\\VirtualBox:InstallDir</kb:RegistryKey><kb:lastupdated>2010-01-01</kb:lastupdated></kb:MetaPackage>
<kb:MetaPackage rdf:about="#9" kb:name="VMVirtualBox-3" kb:registrykey="HKLM\\SOFTWARE\\VB:dir" rdfs:label="VirtualBox 3"/>`);
  noWarnings(c);
  assert.equal(
    c.metaPackages.map((m) => [m.registryKey, m.lastUpdate, m.label]),
    [
      ['HKLM\\SOFTWARE\\innotek\\VirtualBox:installdir', '2009-10-01', undefined],
      ['HKLM\\SOFTWARE\\Oracle\\VirtualBox:InstallDir', '2010-01-01', undefined],
      ['HKLM\\SOFTWARE\\VB:dir', undefined, 'VirtualBox 3'],
    ],
  );
});

test('what is not part of the catalogue vocabulary becomes a warning with its place, and is ignored', () => {
  const c = readCatalogue(
    rdf(
      `<kb:MetaPackage rdf:about="#1" kb:name="APPS/BIO/WEKA-3.4.10" dc:creator="someone">
  <dc:date>2008-02-01</dc:date>
  <kb:url>http://example.org/weka.tar.gz</kb:url>
</kb:MetaPackage>
<rdf:Description rdf:about="#2"><kb:name>orphan</kb:name></rdf:Description>
<kb:Note rdf:about="#3" kb:name="a note"/>`,
      ' xmlns:dc="http://purl.org/dc/elements/1.1/"',
    ),
    source,
  );
  assert.is(c.metaPackages.length, 1);
  assert.equal(c.warnings, [
    '/etc/vmbatch/cat.rdf:3:1 <kb:MetaPackage rdf:about="#1" kb:name="APPS/BIO/WEKA-3.4.10" dc:creator="someone">: dc:creator is not part of a MetaPackage; ignored',
    '/etc/vmbatch/cat.rdf:4:3 <dc:date>: dc:date is not part of a MetaPackage; ignored',
    '/etc/vmbatch/cat.rdf:5:3 <kb:url>: kb:url is not part of a MetaPackage; ignored',
    '/etc/vmbatch/cat.rdf:7:1 <rdf:Description rdf:about="#2">: the node has no type (rdf:type or an element such as <kb:MetaPackage>); ignored',
    '/etc/vmbatch/cat.rdf:8:1 <kb:Note rdf:about="#3" kb:name="a note"/>: kb:Note is not a class of the catalogue (MetaPackage, TarPackage, ImagePackage, DebianPackage, BaseSystem, Tag); ignored',
  ]);
});

test('a document that is one node element; rdf:ID, rdf:nodeID and rdf:type as an attribute', () => {
  const single = readCatalogue(
    `<kb:BaseSystem xmlns:kb="${kb}" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" rdf:ID="debian-12" kb:name="Debian-12"><kb:provides>Linux.</kb:provides></kb:BaseSystem>`,
    source,
  );
  assert.equal(
    single.baseSystems.map((b) => [b.uri, b.name, b.provides]),
    [['file:///etc/vmbatch/cat.rdf#debian-12', 'Debian-12', ['Linux.']]],
  );
  const c = read(`<rdf:Description rdf:nodeID="weka" rdf:type="${kb}MetaPackage" kb:name="APPS/BIO/WEKA-3.4.10"><kb:instance rdf:nodeID="tar"/></rdf:Description>
<kb:TarPackage rdf:nodeID="tar" kb:url="weka.tar.gz"><kb:basesystem>Debian-12</kb:basesystem></kb:TarPackage>`);
  noWarnings(c);
  assert.equal(
    c.metaPackages.map((m) => [m.uri, m.instances]),
    [['_:weka', [{ uri: '_:tar', text: 'tar' }]]],
  );
  assert.is(c.instances[0]!.uri, '_:tar');
});

test('lenient RDF/XML: unqualified about/resource, several nodes in one property, an XML literal', () => {
  const c = read(`<kb:MetaPackage about="#1" kb:name="A">
  <kb:instance>
    <kb:TarPackage rdf:about="#2" kb:url="a.tar.gz"><kb:basesystem>Debian-12</kb:basesystem></kb:TarPackage>
    <kb:TarPackage rdf:about="#3" kb:url="b.tar.gz"><kb:basesystem resource="#bs"/></kb:TarPackage>
  </kb:instance>
  <kb:description rdf:parseType="Literal">Runs <b>fast</b> on <![CDATA[<any>]]> host &amp; more</kb:description>
</kb:MetaPackage>`);
  assert.equal(
    c.metaPackages.map((m) => [m.uri, m.instances, m.description]),
    [
      [
        'file:///etc/vmbatch/cat.rdf#1',
        [
          { uri: 'file:///etc/vmbatch/cat.rdf#2', text: '#2' },
          { uri: 'file:///etc/vmbatch/cat.rdf#3', text: '#3' },
        ],
        'Runs <b>fast</b> on <![CDATA[<any>]]> host &amp; more',
      ],
    ],
  );
  assert.equal(c.instances[1]!.basesystem, { uri: 'file:///etc/vmbatch/cat.rdf#bs', text: '#bs' });
  assert.equal(c.warnings, [
    '/etc/vmbatch/cat.rdf:3:1 <kb:MetaPackage about="#1" kb:name="A">: about="#1" should be written rdf:about; read as that',
    '/etc/vmbatch/cat.rdf:4:3 <kb:instance>: several nodes in one kb:instance; read as rdf:parseType="Collection"',
    '/etc/vmbatch/cat.rdf:6:53 <kb:basesystem resource="#bs"/>: resource="#bs" should be written rdf:resource; read as that',
  ]);
});

test('other problems: a literal that should be text, an empty name, a node with two types, a VirtualMachine that refers', async () => {
  assert.is(
    await problemsOf(
      rdf(`<kb:BaseSystem rdf:about="#3"><kb:name rdf:resource="#x"/></kb:BaseSystem>
<kb:Tag rdf:about="#4" kb:name=" "/>
<kb:TarPackage rdf:about="#5"><rdf:type rdf:resource="${kb}ImagePackage"/></kb:TarPackage>
<kb:MetaPackage rdf:about="#6" kb:name="VM"><kb:VirtualMachine rdf:resource="#vm"/><kb:description>one</kb:description><kb:description>two</kb:description></kb:MetaPackage>`),
    ),
    'the software catalogue /etc/vmbatch/cat.rdf is invalid:\n' +
      '  - /etc/vmbatch/cat.rdf:3:31 <kb:name rdf:resource="#x"/>: kb:name must be text, not a reference (rdf:resource="#x")\n' +
      '  - /etc/vmbatch/cat.rdf:4:1 <kb:Tag rdf:about="#4" kb:name=" "/>: kb:name is empty\n' +
      '  - /etc/vmbatch/cat.rdf:5:1 <kb:TarPackage rdf:about="#5">: the node is both a TarPackage and an ImagePackage; a node has one type\n' +
      '  - /etc/vmbatch/cat.rdf:6:1 <kb:MetaPackage rdf:about="#6" kb:name="VM">: kb:description is given twice; a MetaPackage has one\n' +
      '  - /etc/vmbatch/cat.rdf:6:45 <kb:VirtualMachine rdf:resource="#vm"/>: kb:VirtualMachine must hold the VM\'s elements (kb:os, kb:service, ...), not refer to a node',
  );
});

test('the layers below: the element tree (positions, start tags) and the RDF descriptions it holds', () => {
  const text = rdf(`<kb:MetaPackage rdf:about="#5"
    kb:name="VMLinux/Fedora-7">
  <kb:VirtualMachine><kb:os>Fedora-7</kb:os><kb:out_port>80</kb:out_port></kb:VirtualMachine>
  <kb:instance rdf:resource="#6"/>
</kb:MetaPackage>`);
  const root = parseXmlElements(text, source);
  const mp = root.children[0]!;
  assert.equal([root.name, root.uri, root.children.length], ['rdf:RDF', 'http://www.w3.org/1999/02/22-rdf-syntax-ns#', 1]);
  assert.equal([mp.local, mp.uri, mp.line, mp.column, startTag(mp)], ['MetaPackage', kb, 3, 1, '<kb:MetaPackage rdf:about="#5" kb:name="VMLinux/Fedora-7">']);
  assert.equal(
    mp.attributes.map((a) => [a.name, a.uri, a.local, a.value]),
    [
      ['rdf:about', 'http://www.w3.org/1999/02/22-rdf-syntax-ns#', 'about', '#5'],
      ['kb:name', kb, 'name', 'VMLinux/Fedora-7'],
    ],
  );
  const os = mp.children[0]!.children[0]!;
  assert.equal([os.name, os.text, os.line, os.column], ['kb:os', 'Fedora-7', 5, 22]);

  const doc = readRdfXml(root, { base: 'file:///etc/vmbatch/cat.rdf', nodeClasses: new Set(['MetaPackage']) });
  assert.is(doc.base, 'file:///etc/vmbatch/cat.rdf');
  assert.equal(doc.warnings, []);
  assert.equal(
    doc.descriptions.map((d) => ({
      subject: d.subject,
      types: d.types.map((t) => t.local),
      nested: d.nested,
      properties: d.properties.map((p) => [p.local, p.value.kind === 'node' ? p.value.node.subject : p.value.kind === 'ref' ? p.value.uri : p.value.text]),
    })),
    [
      {
        subject: 'file:///etc/vmbatch/cat.rdf#5',
        types: ['MetaPackage'],
        nested: false,
        properties: [
          ['name', 'VMLinux/Fedora-7'],
          ['VirtualMachine', '_:b1'],
          ['instance', 'file:///etc/vmbatch/cat.rdf#6'],
        ],
      },
      {
        subject: '_:b1',
        types: [],
        nested: true,
        properties: [
          ['os', 'Fedora-7'],
          ['out_port', '80'],
        ],
      },
    ],
  );
});

test("the checks compiled from the model's zod schemas agree with zod", () => {
  const good = read(`<kb:MetaPackage rdf:about="#5" kb:name="VMLinux/Fedora-7"><kb:VirtualMachine><kb:out_port>80</kb:out_port><kb:mem_kb>1</kb:mem_kb></kb:VirtualMachine></kb:MetaPackage>
<kb:TarPackage rdf:about="#6" kb:url="vm.tar.gz"><kb:basesystem rdf:resource="#3"/></kb:TarPackage>
<kb:BaseSystem rdf:about="#3" kb:name="Ubuntu-7.0.4"/>`);
  const vm = good.metaPackages[0]!;
  const cases: [typeof metaPackageSchema | typeof tarPackageSchema | typeof baseSystemSchema, unknown][] = [
    [metaPackageSchema, vm],
    [metaPackageSchema, { ...vm, name: '' }],
    [metaPackageSchema, { ...vm, virtualMachine: { ...vm.virtualMachine!, outPorts: [65536] } }],
    [metaPackageSchema, { ...vm, virtualMachine: { ...vm.virtualMachine!, outPorts: [8.5] } }],
    [metaPackageSchema, { ...vm, virtualMachine: { ...vm.virtualMachine!, memKb: 0 } }],
    [metaPackageSchema, { ...vm, virtualMachine: { ...vm.virtualMachine!, memKb: Number.NaN } }],
    [metaPackageSchema, { ...vm, instances: [{ text: '' }] }],
    [metaPackageSchema, { ...vm, instances: [{ text: 'x', uri: 7 }] }],
    [metaPackageSchema, { ...vm, type: 'TarPackage' }],
    [metaPackageSchema, { ...vm, at: { ...vm.at, line: 0 } }],
    [metaPackageSchema, { ...vm, description: undefined }],
    [metaPackageSchema, [vm]],
    [tarPackageSchema, good.instances[0]],
    [tarPackageSchema, { ...good.instances[0]!, urls: [''] }],
    [tarPackageSchema, { ...good.instances[0]!, basesystem: undefined }],
    [baseSystemSchema, good.baseSystems[0]],
    [baseSystemSchema, { ...good.baseSystems[0]!, provides: 'Linux.' }],
    [baseSystemSchema, null],
  ];
  for (const [schema, value] of cases) {
    const check = compileZodCheck(schema);
    assert.ok(check, 'the model uses only rules the compiler knows');
    assert.is(check(value), schema.safeParse(value).success, JSON.stringify(value));
  }
});

test.run();
