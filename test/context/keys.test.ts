import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import ssh2 from 'ssh2';
import { generateKeyPair, publicKeyBlob } from '../../src/context/keys.js';

test('generated keys are valid OpenSSH keys: ssh-keygen, dropbearconvert and ssh2 read them', async () => {
  const pair = generateKeyPair('vmbatch-1.vm-user');
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-keys-'));
  try {
    const file = join(dir, 'key');
    writeFileSync(file, pair.privateKey, { mode: 0o600 });
    const derived = await execa('ssh-keygen', ['-y', '-f', file]);
    assert.is(derived.stdout, pair.publicKey);
    const converted = await execa('dropbearconvert', ['openssh', 'dropbear', file, join(dir, 'db')], { reject: false });
    assert.is(converted.exitCode, 0, converted.stderr);
    const parsed = ssh2.utils.parseKey(pair.privateKey);
    assert.not.instance(parsed, Error);
    assert.ok(!(parsed instanceof Error) && parsed.getPublicSSH().equals(publicKeyBlob(pair.publicKey)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every key pair is new', () => {
  assert.is.not(generateKeyPair('a').publicKey, generateKeyPair('a').publicKey);
});

test.run();
