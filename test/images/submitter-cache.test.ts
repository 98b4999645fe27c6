import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureCachedImage } from '../../src/images/ensure-cached.js';
import type { ImageSource } from '../../src/images/image-source.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { cacheScratch, runImagesCli, templateSource, type CacheScratch } from '../helpers/image-cache.js';

let server: ImageServer;
let scratch: CacheScratch;
let alice: HostUser;
let mallory: HostUser;
let image: Buffer;

test.before(async () => {
  server = await startImageServer();
  scratch = cacheScratch();
  // other users can reach the cache, as on a node: what protects an entry is the entry's own modes
  chmodSync(scratch.root, 0o755);
  alice = await ensureHostUser('vbimga', 37300, 37300);
  mallory = await ensureHostUser('vbimgm', 37301, 37301);
  const file = join(scratch.root, 'private.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', file, '16M']);
  image = readFileSync(file);
});
test.after(async () => {
  await server.close();
  rmSync(scratch.root, { recursive: true, force: true });
});

const submitterSource = (url: string, uid: number): ImageSource => ({
  url,
  hash: undefined,
  origin: 'submitter',
  maxBytes: 1 << 30,
  maxVirtualBytes: 1 << 30,
  allowedPrefixes: [server.url('/users/')],
  ownerUid: uid,
});
const as = (who: HostUser, argv: string[]) => execa(argv[0]!, argv.slice(1), { uid: who.uid, gid: who.gid, reject: false });

test('two users asking for one image URL get two entries; the other user can neither read the image nor list the entry; records keep no query', async () => {
  const path = '/users/private.qcow2?token=SECRET-7320';
  server.route(path, { kind: 'data', data: image });
  const url = server.url(path);
  const mine = await ensureCachedImage(scratch.ctx('7320'), submitterSource(url, alice.uid), 'qcow2');
  const theirs = await ensureCachedImage(scratch.ctx('7321'), submitterSource(url, mallory.uid), 'qcow2');
  assert.is.not(mine.paths.dir, theirs.paths.dir, 'one entry per submitter');
  assert.is(server.requests(path), 2, "mallory's job fetched its own copy");
  const shared = await ensureCachedImage(scratch.ctx('7322'), templateSource(url), 'qcow2');
  assert.ok(![mine.paths.dir, theirs.paths.dir].includes(shared.paths.dir), "a template's entry is never a submitter's");

  const gid = Number((await execa('getent', ['group', 'libvirt-qemu'])).stdout.split(':')[2]);
  const st = statSync(mine.paths.data);
  assert.equal([st.uid, st.gid, st.mode & 0o777], [0, gid, 0o640]);
  assert.is(statSync(mine.paths.dir).mode & 0o777, 0o711);
  const read = await as(mallory, ['cat', mine.paths.data]);
  assert.is(read.exitCode, 1);
  assert.is(read.stderr, `cat: ${mine.paths.data}: Permission denied`);
  const list = await as(mallory, ['ls', mine.paths.dir]);
  assert.is(list.stderr, `ls: cannot open directory '${mine.paths.dir}': Permission denied`);
  // even the owner reads it only through their guest (the guests' group), not on the host
  assert.is((await as(alice, ['cat', mine.paths.data])).exitCode, 1);

  const meta = readFileSync(mine.paths.meta, 'utf8');
  assert.not.ok(meta.includes('SECRET'), meta);
  assert.is((JSON.parse(meta) as { identity: string }).identity, `${server.url('/users/private.qcow2')}?…`);
  const listing = await runImagesCli(scratch, ['list']);
  assert.not.ok(listing.stdout.includes('SECRET'), listing.stdout);
  // the key still has the query: another token is another entry
  server.route('/users/private.qcow2?token=OTHER', { kind: 'data', data: image });
  const other = await ensureCachedImage(scratch.ctx('7323'), submitterSource(server.url('/users/private.qcow2?token=OTHER'), alice.uid), 'qcow2');
  assert.is.not(other.paths.dir, mine.paths.dir);
});

test('errors and logs name a URL without its credentials or query', async () => {
  const url = server.url('/users/missing.qcow2?token=SECRET-404');
  const error = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7324'), submitterSource(url, alice.uid), 'qcow2'), 'DOWNLOAD_HTTP_STATUS');
  assert.not.ok(error.message.includes('SECRET'), error.message);
  assert.ok(error.message.includes(`${server.url('/users/missing.qcow2')}?…`), error.message);
});

test.run();
