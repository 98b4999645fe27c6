// Hooks whose code cannot be loaded (a tree the job's user cannot read, files missing while the
// installation is being replaced) end with one clear line and the exit code pbs_mom understands,
// never with Node's stack trace: the $job_starter 255 (the job did not run), the prologue 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { commandModuleIn, mainIn, underTest } from '../helpers/paths.js';
import { runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';

let mom: Mom;
let user: HostUser;
let tree: string;
let node: string;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  // the hooks run from a copy of the checkout, which these tests break
  mom = await setupMom({ copyTree: true });
  tree = join(mom.root, 'vmbatch');
  node = /^exec '([^']+)'/m.exec(readFileSync(mom.starter, 'utf8'))![1]!;
});
test.after(() => teardownMom(mom));

test('a tree the user cannot read: the $job_starter says so in one line and exits 255', async () => {
  const job = { jobId: '7821.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\n');
  // the directory that holds the entry file: the checkout's dist/, the package's tree itself
  const code = underTest.kind === 'package' ? tree : join(tree, 'dist');
  chmodSync(code, 0o700);
  try {
    const run = await runJobStarter(mom, job, script);
    assert.is(run.exitCode, 255);
    assert.is(
      run.stderr,
      `vmbatch: cannot start remoteshell as vbe2e: ${mainIn(tree)} (or the node binary ${node}) cannot be read by this user; the job did not run. An administrator must install vmbatch where every user can read it`,
    );
    assert.is(run.stdout, '');
  } finally {
    chmodSync(code, 0o755);
  }
});

test('files missing mid-upgrade: one line naming the missing module, 255 for the job, 1 (abort) for the prologue', async () => {
  const job = { jobId: '7822.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\n');
  const modules = ['hooks/remoteshell', 'hooks/prologue'].map((m) => commandModuleIn(tree, m));
  for (const m of modules) renameSync(m, `${m}.old`);
  try {
    const run = await runJobStarter(mom, job, script);
    assert.is(run.exitCode, 255);
    assert.is(
      run.stderr,
      `vmbatch: cannot load vmbatch's code as vbe2e (ERR_MODULE_NOT_FOUND: Cannot find module '${modules[0]}' imported from ${mainIn(tree)}); ` +
        'the job did not run. An administrator must check the installation (complete, and readable by every user)',
    );
    const pro = await runPrologue(mom, job, script);
    assert.is(pro.exitCode, 1);
    assert.is(
      pro.stderr,
      `vmbatch: cannot load vmbatch's code as uid 0 (ERR_MODULE_NOT_FOUND: Cannot find module '${modules[1]}' imported from ${mainIn(tree)}); ` +
        'the job is aborted. An administrator must check the installation (complete, and readable by every user)',
    );
  } finally {
    for (const m of modules) renameSync(`${m}.old`, m);
  }
});

test.run();
