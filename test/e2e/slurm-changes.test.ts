// Saved changes under Slurm as under Torque: --vm-save-changes saves what an sbatch job changed on
// its guest's disk as the submitter's layer (as root in the guest, --vm-root, where the site
// allows it); --vm-changes boots a later job from it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { setupSlurmNode, slurmLeftovers, submit, teardownSlurmNode, waitForJobEnd, type SlurmNode } from '../slurm/cluster.js';

let node: SlurmNode;
let user: HostUser;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  node = setupSlurmNode({ config: { guestRoot: 'saving-changes' } });
  rmSync(join(user.home, '.vmbatch', 'changes', 'stools.qcow2'), { force: true });
});
test.after(() => {
  teardownSlurmNode(node);
  for (const f of ['stools.qcow2', 'stools.json']) rmSync(join(user.home, '.vmbatch', 'changes', f), { force: true });
});

test('sbatch --vm-save-changes --vm-root=yes, then --vm-changes: the second job runs what the first installed as root', async () => {
  const dir = freshWorkdir(user, 'slurm-changes-');
  const first = await submit(
    user,
    dir,
    '#!/bin/sh\n#SBATCH --vm-save-changes=stools --vm-root=yes --output=first.txt\nsudo mkdir -p /home/opt && sudo chmod 1777 /home/opt && mkdir -p "$HOME/bin" && printf \'#!/bin/sh\\necho hello from stool\\n\' > "$HOME/bin/stool" && chmod +x "$HOME/bin/stool" && echo installed\n',
  );
  assert.is((await waitForJobEnd(first))?.ExitCode, '0:0', readFileSync(join(dir, 'first.txt'), 'utf8'));
  assert.is(readFileSync(join(dir, 'first.txt'), 'utf8'), 'installed\n');
  const layer = join(user.home, '.vmbatch', 'changes', 'stools.qcow2');
  assert.is(statSync(layer).uid, user.uid);
  const saved = readFileSync(node.logFile, 'utf8')
    .split('\n')
    .find((l) => l.includes('msg="changes"') && l.includes(`job=${first} `));
  assert.match(saved ?? '', `saved the guest's changes as ${layer}`);
  const second = await submit(user, dir, '#!/bin/sh\n#SBATCH --vm-changes=stools --output=second.txt\n"$HOME/bin/stool"\nstat -c %a /home/opt\n');
  assert.is((await waitForJobEnd(second))?.ExitCode, '0:0');
  assert.is(readFileSync(join(dir, 'second.txt'), 'utf8'), 'hello from stool\n1777\n');
  assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [], attempts: [] });
});

test.run();
