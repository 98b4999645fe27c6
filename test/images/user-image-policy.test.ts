import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkUserImage, loadUserImagePolicy, type UserImagePolicy } from '../../src/images/user-image-policy.js';
import { formatError } from '../../src/errors/vmbatch-error.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const policy: UserImagePolicy = { allow: ['https://images.example.org/vm/', 'http://127.0.0.1:8080/users/'], requireHash: true, maxSizeMiB: 100, maxVirtualSizeMiB: 2048, copyMethod: 'shared' };
const hash = `sha256:${'a'.repeat(64)}`;
const check = (image: string, hashText: string | undefined) => checkUserImage({ image, hashText, policy, policyPath: '/etc/vmbatch/user-images.json' });
const reason = async (image: string, hashText: string | undefined) =>
  (await expectVmbatchError(() => check(image, hashText), 'USER_IMAGE_REFUSED')).message.replace(`the guest image '${image}' requested with vbuserimage (Slurm: --vm-image) is refused: `, '');

test('an image under an allowed prefix with its hash becomes a policy-bound source', () => {
  assert.equal(check('https://images.example.org/vm/alice/sl7.qcow2', hash), {
    url: 'https://images.example.org/vm/alice/sl7.qcow2',
    hash: { algorithm: 'sha256', value: 'a'.repeat(64) },
    origin: 'submitter',
    maxBytes: 100 * 1048576,
    maxVirtualBytes: 2048 * 1048576,
    allowedPrefixes: policy.allow,
  });
});

test('every refusal says why, in words the submitter reads', async () => {
  const none = await expectVmbatchError(() => checkUserImage({ image: 'https://x/y', hashText: hash, policy: undefined, policyPath: '/etc/vmbatch/user-images.json' }), 'USER_IMAGE_REFUSED');
  assert.is(none.message, "the guest image 'https://x/y' requested with vbuserimage (Slurm: --vm-image) is refused: this node has no user image policy (/etc/vmbatch/user-images.json)");
  assert.is(await reason('file:///etc/shadow', hash), 'only http:// and https:// URLs are accepted, not file://');
  assert.is(await reason('/etc/shadow', hash), 'it is not a URL (only http:// and https:// URLs are accepted, never host paths)');
  assert.is(await reason('https://images.example.org/vm/../../etc/passwd', hash), "its path contains '..', '.' or '\\'");
  assert.is(await reason('https://images.example.org/vm/%2e%2e/secret', hash), "its path contains '..', '.' or '\\'");
  assert.is(await reason('https://bob:pw@images.example.org/vm/a.img', hash), 'URLs with a user name or password are not accepted');
  assert.is(await reason('https://images.example.org.evil.com/vm/a.img', hash), 'it is not under a location the site allows (https://images.example.org/vm/, http://127.0.0.1:8080/users/)');
  assert.is(await reason('https://images.example.org/vm/a.img', undefined), 'the site requires its hash: add :vbuserimagehash=sha256:HEX to -l other=');
  assert.is(await reason('https://images.example.org/vm/a.img', 'sha256:abc'), "vbuserimagehash 'sha256:abc' is not ALGO:HEX with ALGO one of md5, sha1, sha256, sha512");
  const error = await expectVmbatchError(() => check('file:///etc/shadow', hash), 'USER_IMAGE_REFUSED');
  assert.is(
    formatError(error),
    "vmbatch: USER_IMAGE_REFUSED: the guest image 'file:///etc/shadow' requested with vbuserimage (Slurm: --vm-image) is refused: only http:// and https:// URLs are accepted, not file://\n" +
      '  hint: request an image the site allows (`vmbatch images policy` prints its rules; docs/submitters.md), or submit without vbuserimage (--vm-image under Slurm)',
  );
});

test('control characters and double-encoded escapes are refused on the raw string, before the URL parser drops or decodes them', async () => {
  // the WHATWG parser drops tab and newline: '.\t.' would reach the server as '..'
  assert.is(await reason('https://images.example.org/vm/.\t./.\n./etc/passwd', hash), 'it contains the control character 0x09');
  assert.is(await reason('https://images.example.org/vm/a\x00.img', hash), 'it contains the control character 0x00');
  assert.is(await reason('https://images.example.org/vm/a\x7f.img', hash), 'it contains the control character 0x7f');
  assert.is(await reason('https://images.example.org/vm/a.img\r\nX-Injected: 1', hash), 'it contains the control character 0x0d');
  // '%252e' decodes once to '%2e', which a second decoding (a proxy, the server) makes '.'
  assert.is(await reason('https://images.example.org/vm/%252e%252e/secret', hash), "it contains '%25', an escaped '%' (a double-encoded escape)");
  assert.is(await reason('https://images.example.org/vm/a.img?x=%25', hash), "it contains '%25', an escaped '%' (a double-encoded escape)");
  // other escapes are fine
  assert.is(check('https://images.example.org/vm/my%20image.qcow2', hash).url, 'https://images.example.org/vm/my%20image.qcow2');
});

test('the policy file is validated with every problem and its path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-policy-'));
  try {
    const file = join(dir, 'user-images.json');
    assert.is(loadUserImagePolicy(file), undefined, 'no file: no policy');
    writeFileSync(file, JSON.stringify({ allow: ['file:///srv/', 'https://ok.example.org/vm'], maxSizeMiB: -1, extra: 1 }));
    const error = await expectVmbatchError(() => loadUserImagePolicy(file), 'USER_IMAGE_POLICY_INVALID');
    assert.is(
      error.message,
      [
        `the user image policy ${file} is invalid:`,
        "  - allow.0: must be an http:// or https:// URL ending in '/'",
        "  - allow.1: must be an http:// or https:// URL ending in '/'",
        '  - maxSizeMiB: Number must be greater than 0',
        '  - unknown setting(s) extra',
      ].join('\n'),
    );
    writeFileSync(file, JSON.stringify({ allow: ['HTTPS://OK.example.org/vm/'] }));
    assert.equal(loadUserImagePolicy(file), { allow: ['https://ok.example.org/vm/'], requireHash: true, maxSizeMiB: 10240, maxVirtualSizeMiB: 65536, copyMethod: 'shared' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
