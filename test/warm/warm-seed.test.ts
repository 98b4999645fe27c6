// The seed a warm build boots a cloud-init guest with: nothing of a job, no host keys, the
// warm-start agent started in a systemd unit of its own with the build's nonce.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planWarmSeed } from '../../src/warm/warm-seed.js';
import { guestScript } from '../../src/context/iso-layout.js';

const key = 'ab'.repeat(32);

test('a NoCloud seed: user-data writes and starts the agent, makes no SSH host key; meta-data names the state', () => {
  const seed = planWarmSeed({ nonce: 'feedc0de'.repeat(4), key });
  assert.is(seed.volumeId, 'cidata');
  assert.equal(
    seed.files.map((f) => [f.path, f.mode.toString(8)]),
    [
      ['user-data', '644'],
      ['meta-data', '644'],
    ],
  );
  const userData = seed.files[0]!.content;
  assert.ok(userData.startsWith('#cloud-config\n'));
  assert.equal(JSON.parse(userData.slice('#cloud-config\n'.length)), {
    ssh_deletekeys: true,
    ssh_genkeytypes: [],
    write_files: [{ path: '/var/lib/vmbatch/warm-agent.sh', content: guestScript('warm-agent.sh'), permissions: '0755' }],
    runcmd: [['systemd-run', '--unit=vmbatch-warm-agent', '--remain-after-exit', '-p', 'KillMode=process', '/bin/sh', '/var/lib/vmbatch/warm-agent.sh', 'feedc0de'.repeat(4)]],
  });
  assert.equal(JSON.parse(seed.files[1]!.content), { 'instance-id': `vmbatch-warm-${'ab'.repeat(8)}`, 'local-hostname': 'vmbatch-guest' });
  assert.equal([seed.copies, seed.unpack], [[], []]);
});

test("the agent reports the warm-ready line with the build's nonce, then runs the first prolog.sh a CD-ROM brings, as a restored copy", () => {
  const agent = guestScript('warm-agent.sh');
  assert.match(agent, 'echo "VMBATCH-READY $nonce warm" > /dev/ttyS0');
  assert.match(agent, '[ -f "$mnt/prolog.sh" ] && VB_WARM_RESTORED=yes exec sh "$mnt/prolog.sh" "$mnt"');
});

test.run();
