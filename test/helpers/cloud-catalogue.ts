import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageServer } from './image-server.js';
import { makeRteImage, makeRteTarball } from './rte-packages.js';

// a catalogue whose only base system is the Debian 12 the cloud guest realises
const catalogue = `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">
  <kb:BaseSystem rdf:about="#deb12" kb:name="Debian-12"><kb:provides>Debian.</kb:provides></kb:BaseSystem>
  <kb:MetaPackage rdf:about="#vm" kb:name="VMLinux/Debian-12-cloud"><kb:provides>Debian-12</kb:provides>
    <kb:VirtualMachine><kb:os>Debian-12</kb:os><kb:Requirements><kb:mem_kb>524288</kb:mem_kb></kb:Requirements></kb:VirtualMachine></kb:MetaPackage>
  <kb:MetaPackage rdf:about="#greet" kb:name="APPS/TEST/GREETING-1"><kb:instance rdf:resource="#greet-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#greet-tar" kb:url="greeting.tar.gz"><kb:basesystem rdf:resource="#deb12"/></kb:TarPackage>
  <kb:MetaPackage rdf:about="#ref" kb:name="DATA/TEST/REFDATA-1"><kb:instance rdf:resource="#ref-img"/></kb:MetaPackage>
  <kb:ImagePackage rdf:about="#ref-img" kb:url="refdata.img"><kb:basesystem rdf:resource="#deb12"/></kb:ImagePackage>
</rdf:RDF>
`;

/**
 * Serves the cloud guest's catalogue on `server` (/catalogue.rdf) with its two runtime
 * environments: APPS/TEST/GREETING-1 (a tar whose install writes a greeting, exported as
 * GREETING) and DATA/TEST/REFDATA-1 (an image whose README is at $REFDATA). Returns the
 * catalogue's URL.
 */
export async function serveCloudCatalogue(server: ImageServer): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-cloud-rte-'));
  await makeRteTarball(join(dir, 'greeting.tar.gz'), { install: 'echo "hello from %BASEDIR%" > greeting', runtime: { 1: 'GREETING=$(cat %BASEDIR%/greeting); export GREETING' } }, true);
  await makeRteImage(join(dir, 'refdata.img'), { runtime: { 1: 'REFDATA=%BASEDIR%; export REFDATA' }, data: { README: 'reference data 1\n' } });
  server.route('/greeting.tar.gz', { kind: 'file', path: join(dir, 'greeting.tar.gz') });
  server.route('/refdata.img', { kind: 'file', path: join(dir, 'refdata.img') });
  server.route('/catalogue.rdf', { kind: 'data', data: Buffer.from(catalogue) });
  return server.url('/catalogue.rdf');
}
