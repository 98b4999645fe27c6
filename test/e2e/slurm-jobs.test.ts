// Jobs of a real single-node Slurm (slurmctld, slurmd, munge) in vmbatch guests, through the
// SPANK plugin: sbatch, srun steps, srun --pty, salloc, two jobs at once, an array, scancel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { waitForFs } from '../helpers/wait-for-fs.js';
import { asUser, setupSlurmNode, slurmLeftovers, submit, teardownSlurmNode, waitForJobEnd, waitForNoJobs, waitForNodeState, type SlurmNode } from '../slurm/cluster.js';

let node: SlurmNode;
let user: HostUser;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  node = setupSlurmNode();
});
test.after(() => teardownSlurmNode(node));

const nothingLeft = async () => assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [], attempts: [] });

test('sbatch: the script runs in the guest as the submitter, with its arguments, exit code and output file', async () => {
  const dir = freshWorkdir(user, 'slurm-batch-');
  const script = `#!/bin/sh
#SBATCH --vm-domain=testguest
#SBATCH --output=out-%j.txt
echo "host=$(uname -n) uid=$(id -u) gid=$(id -g) user=$(id -un) pwd=$(pwd) home=$HOME"
echo "job=$SLURM_JOB_ID args=$#:$1|$2"
cat input.txt
echo to-stderr >&2
exit 3
`;
  const jobId = await submit(user, dir, script, [], ['one', 'two words']);
  const record = await waitForJobEnd(jobId);
  assert.is(record?.JobState, 'FAILED');
  assert.is(record?.ExitCode, '3:0');
  assert.is(
    readFileSync(join(dir, `out-${jobId}.txt`), 'utf8'),
    `host=vmbatch-guest uid=31337 gid=31338 user=vbe2e pwd=${dir} home=/home/vbe2e\njob=${jobId} args=2:one|two words\ninput from the node\nto-stderr\n`,
  );
  await waitForNodeState(/^idle$/);
  await nothingLeft();
});

test("srun steps of a running job, and srun -n 2, run in that job's one guest", async () => {
  const dir = freshWorkdir(user, 'slurm-steps-');
  const script = `#!/bin/sh
#SBATCH --output=out.txt
echo running > started
while [ ! -e release ]; do sleep 0.2; done
echo released
`;
  const jobId = await submit(user, dir, script);
  await waitForFs(dir, () => existsSync(join(dir, 'started')), 120_000);
  const step = await asUser(user, ['srun', `--jobid=${jobId}`, '--overlap', 'sh', '-c', 'echo "$(uname -n) step=$SLURM_STEP_ID"; ls started'], { cwd: dir });
  assert.is(step.exitCode, 0, step.stderr);
  assert.is(step.stdout, 'vmbatch-guest step=0\nstarted');
  writeFileSync(join(dir, 'release'), '');
  assert.is((await waitForJobEnd(jobId))?.ExitCode, '0:0');
  assert.is(readFileSync(join(dir, 'out.txt'), 'utf8'), 'released\n');

  const two = await asUser(user, ['srun', '-n', '2', '--vm-domain=testguest', 'sh', '-c', 'echo "$SLURM_PROCID $(uname -n)"'], { cwd: dir });
  assert.is(two.exitCode, 0, two.stderr);
  assert.equal(two.stdout.split('\n').sort(), ['0 vmbatch-guest', '1 vmbatch-guest']);
  await waitForNoJobs(user);
  await nothingLeft();
});

test('srun --pty and salloc give the submitter a terminal in the guest', async () => {
  const dir = freshWorkdir(user, 'slurm-pty-');
  const pty = await asUser(user, ['script', '-qec', 'srun --pty /bin/sh', '/dev/null'], { cwd: dir, input: 'echo "$(uname -n) $(tty) $(id -un)"; exit 7\n' });
  await waitForNoJobs(user);
  assert.match(pty.stdout.replaceAll('\r', ''), /\nvmbatch-guest \/dev\/pts\/[0-9]+ vbe2e\n/);
  assert.match(pty.stdout, /task 0: Exited with exit code 7/);
  const salloc = await asUser(user, ['script', '-qec', 'salloc', '/dev/null'], { cwd: dir, input: 'echo "$(uname -n) $(pwd) $0"; exit 4\n' });
  // salloc's shell is the submitter's login shell in the guest (the node's bash is not there)
  assert.match(salloc.stdout.replaceAll('\r', ''), new RegExp(`\\nvmbatch-guest ${dir} -?/bin/sh\\n`));
  assert.match(salloc.stdout, /task 0: Exited with exit code 4/);
  await waitForNoJobs(user);
  await waitForNodeState(/^idle$/);
  await nothingLeft();
});

test('two jobs run at once on the 2-CPU node, each in its own guest', async () => {
  const dir = freshWorkdir(user, 'slurm-two-');
  // each job waits for the other's mark in the shared working directory: only concurrent jobs finish
  const script = (me: string, other: string) => `#!/bin/sh
#SBATCH --output=${me}.out --cpus-per-task=1
echo "$(uname -n) $SLURM_JOB_ID" > ${me}.mark
n=0; while [ ! -e ${other}.mark ] && [ $n -lt 600 ]; do sleep 0.2; n=$((n+1)); done
test -e ${other}.mark && echo saw ${other}
`;
  const a = await submit(user, dir, script('a', 'b'));
  const b = await submit(user, dir, script('b', 'a'));
  const [ra, rb] = await Promise.all([waitForJobEnd(a), waitForJobEnd(b)]);
  assert.is(ra?.ExitCode, '0:0');
  assert.is(rb?.ExitCode, '0:0');
  assert.is(readFileSync(join(dir, 'a.out'), 'utf8'), 'saw b\n');
  assert.is(readFileSync(join(dir, 'a.mark'), 'utf8'), `vmbatch-guest ${a}\n`);
  assert.is(readFileSync(join(dir, 'b.mark'), 'utf8'), `vmbatch-guest ${b}\n`);
  await nothingLeft();
});

test('a job array of 4 tasks: each task in a guest of its own', async () => {
  const dir = freshWorkdir(user, 'slurm-array-');
  const script = `#!/bin/sh
#SBATCH --array=1-4 --output=task-%a.out
echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID on $(uname -n) as $(id -un)"
`;
  const arrayId = await submit(user, dir, script);
  for (const index of [1, 2, 3, 4]) {
    const record = await waitForJobEnd(`${arrayId}_${index}`);
    assert.is(record?.ExitCode, '0:0');
    assert.is(readFileSync(join(dir, `task-${index}.out`), 'utf8'), `task ${index} of ${arrayId} on vmbatch-guest as vbe2e\n`);
  }
  await nothingLeft();
});

test('scancel of a running job destroys its guest and leaves nothing', async () => {
  const dir = freshWorkdir(user, 'slurm-cancel-');
  const jobId = await submit(user, dir, `#!/bin/sh\n#SBATCH --output=out.txt\necho running > started\nsleep 600\n`);
  await waitForFs(dir, () => existsSync(join(dir, 'started')), 120_000);
  assert.equal((await slurmLeftovers(node)).domains, [`vmbatch-${jobId}`]);
  const cancel = await asUser(user, ['scancel', jobId], { cwd: dir });
  assert.is(cancel.exitCode, 0, cancel.stderr);
  assert.is((await waitForJobEnd(jobId))?.JobState, 'CANCELLED');
  await waitForNodeState(/^idle$/);
  await nothingLeft();
});

test.run();
