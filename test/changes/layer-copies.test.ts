// Root's checked copies of submitters' layers, shared by their jobs: made once per layer
// identity and base, never half there, unused ones removed after a day.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layerCopiesDir, sharedLayerCopy } from '../../src/changes/layer-copies.js';

const stateDir = mkdtempSync(join(tmpdir(), 'vmbatch-layer-copies-'));
test.after(() => rmSync(stateDir, { recursive: true, force: true }));
const dir = layerCopiesDir(stateDir, 31337);
let made = 0;
const copy = (identity: string, make = async (file: string) => void (made++, writeFileSync(file, identity))) =>
  sharedLayerCopy({ stateDir, uid: 31337, guestGid: 0, name: 'tools', identity, base: '/b/disk.qcow2', deadline: Date.now() + 5000, make });

test('made once for a layer identity and base, then found; another identity is another copy', async () => {
  const first = await copy('1:2:3:4.0:5.0');
  assert.is(await copy('1:2:3:4.0:5.0'), first);
  assert.is(made, 1);
  assert.equal([statSync(first).mode & 0o777, statSync(dir).mode & 0o777], [0o440, 0o711]);
  assert.match(first, /\/changes-copies\/31337\/tools--[0-9a-f]{24}\.qcow2$/);
  assert.is.not(await copy('1:2:3:4.0:6.0'), first);
  assert.is(made, 2);
});

test('a copy that fails its checks leaves nothing, and the next job tries again', async () => {
  const before = readdirSync(dir).sort();
  let error: unknown;
  await copy('bad', async (file) => {
    writeFileSync(file, 'half');
    throw new Error('refused');
  }).catch((e: unknown) => (error = e));
  assert.is((error as Error).message, 'refused');
  assert.equal(readdirSync(dir).sort(), before);
  assert.ok(existsSync(await copy('bad')));
});

test("copies unused for a day and a crashed prologue's part are removed when the next copy is made", async () => {
  const old = await copy('old');
  const twoDaysAgo = new Date(Date.now() - 2 * 86400_000);
  utimesSync(old, twoDaysAgo, twoDaysAgo);
  writeFileSync(join(dir, 'tools--0123.qcow2.part'), 'x');
  const fresh = await copy('fresh');
  assert.not.ok(existsSync(old));
  assert.not.ok(existsSync(join(dir, 'tools--0123.qcow2.part')));
  assert.ok(existsSync(fresh));
});

test.run();
