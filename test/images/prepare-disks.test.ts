import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseTemplate } from '../../src/domain/parse-template.js';
import { planDisks } from '../../src/images/disk-plan.js';
import { prepareDisks } from '../../src/images/prepare-disks.js';
import { readCacheUses } from '../../src/images/cache-context.js';
import { jobPaths } from '../../src/state/job-paths.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { cacheScratch, type CacheScratch } from '../helpers/image-cache.js';
import type { QemuImgJson } from '../helpers/qemu-img-json.js';

let server: ImageServer;
let scratch: CacheScratch;
const data = randomBytes(2 * 1048576);
const md5 = createHash('md5').update(data).digest('hex');

test.before(async () => {
  server = await startImageServer();
  server.route('/img/root.img', { kind: 'data', data });
  scratch = cacheScratch();
});
test.after(async () => {
  await server.close();
  rmSync(scratch.root, { recursive: true, force: true });
});

const info = async (file: string) => JSON.parse((await execa('qemu-img', ['info', '--output=json', '--force-share', file])).stdout) as QemuImgJson;

test('one job, every kind of disk: per-job download, shared read-only, created always and once, local overlay', async () => {
  const local = join(scratch.root, 'local.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', local, '16M']);
  const template = await parseTemplate(
    `<domain type='qemu'><name>t</name><memory>65536</memory><vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig><devices>
      <disk><driver type='raw'/><vbdisksource source='root.img' copy_method='download'/><vbcheckhash hashfunction='/usr/bin/md5sum' hashvalue='${md5}'/><target dev='vda'/></disk>
      <disk><driver type='raw'/><vbdisksource source='root.img' copy_method='shared'/><target dev='vdb'/><readonly/></disk>
      <disk><vbdisksource source='scratch' size='32' create='always' format='raw'/><target dev='vdc'/></disk>
      <disk><vbdisksource source='cvmfs' size='64' create='once'/><target dev='vdd'/></disk>
      <disk><driver type='qcow2'/><source file='${local}'/><target dev='vde'/></disk>
      <disk device='cdrom'><vbpreparecdrom source='context.iso'/><target dev='hdc'/><readonly/></disk>
    </devices></domain>`,
    't.xml',
  );
  const paths = jobPaths(scratch.stateDir, '9.vm');
  mkdirSync(paths.dir, { recursive: true });
  const plan = planDisks(template, { paths, cacheDir: scratch.cacheDir, siteBase: server.url('/img/'), userImage: undefined });
  await prepareDisks(plan, scratch.ctx('9.vm', { usesFile: paths.cacheUses, createOnceSeeder: true }));
  const file = (i: number) => (plan[i]!.kind === 'disk' ? plan[i]!.file : '');
  assert.ok(readFileSync(file(0)).equals(data), 'the per-job download is the image');
  assert.is(statSync(file(0)).mode & 0o777, 0o600, 'and private to the job');
  assert.is(file(0), join(paths.dir, 'disk-vda.img'));
  assert.match(file(1), new RegExp(`^${scratch.cacheDir}/images/[0-9a-f]{32}/image$`), 'a read-only shared image is used in place');
  assert.ok(readFileSync(file(1)).equals(data));
  assert.equal([(await info(file(2))).format, (await info(file(2)))['virtual-size']], ['raw', 32 * 1048576]);
  const once = await info(file(3));
  assert.equal([once.format, once['virtual-size']], ['qcow2', 64 * 1048576]);
  assert.match(once['backing-filename'] ?? '', new RegExp(`^${scratch.cacheDir}/created/[0-9a-f]{32}/image$`));
  assert.is((await info(file(4)))['backing-filename'], local);
  assert.is(server.requests('/img/root.img'), 2, 'one per-job download, one into the cache');
  assert.equal(
    readCacheUses(paths.cacheUses).map((u) => [u.entry.dir.includes('/created/'), u.seed?.cow]),
    [
      [false, undefined],
      [true, 'qcow2'],
    ],
  );
});

test.run();
