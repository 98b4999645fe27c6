import * as assert from 'uvu/assert';
import { chownSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostUser } from './host-user.js';
import { leftovers, type Mom } from '../torque/pbs-mom.js';

/** The virtiofs daemons still serving a directory (by their source= argument): none once its job has ended. */
export function shareDaemonsOf(path: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^[0-9]+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(`source=${path}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A fresh directory of the user's below their home, holding input.txt: a job's submit directory. */
export function freshWorkdir(user: HostUser, prefix: string): string {
  const dir = mkdtempSync(join(user.home, prefix));
  chownSync(dir, user.uid, user.gid);
  writeFileSync(join(dir, 'input.txt'), 'input from the node\n', { mode: 0o644 });
  chownSync(join(dir, 'input.txt'), user.uid, user.gid);
  return dir;
}

/** A job that reads the input, writes a 0640 result and a subdirectory, and says where it runs. */
export const readWriteJob = `#!/bin/sh
echo "pwd=$(pwd) home=$HOME user=$(id -un)"
cat input.txt
tr a-z A-Z < input.txt > result.txt && chmod 0640 result.txt
mkdir -p out/deeper && echo inner > out/deeper/file.txt
stat -c '%u:%g %a %n' result.txt out
`;

/** What the node holds of one test file's jobs (domains by `pattern`): other files' guests share qemu:///system. */
export async function leftoversOf(node: Mom, pattern: RegExp): Promise<Awaited<ReturnType<typeof leftovers>>> {
  const left = await leftovers(node);
  return { ...left, domains: left.domains.filter((d) => pattern.test(d)) };
}

/** Asserts what readWriteJob left in its working directory on the node: the submitter's files, with the job's modes. */
export function assertWritten(workdir: string): void {
  const result = statSync(join(workdir, 'result.txt'));
  assert.equal([result.uid, result.gid, result.mode & 0o7777], [31337, 31338, 0o640]);
  assert.is(readFileSync(join(workdir, 'result.txt'), 'utf8'), 'INPUT FROM THE NODE\n');
  const inner = statSync(join(workdir, 'out', 'deeper', 'file.txt'));
  assert.equal([inner.uid, inner.gid], [31337, 31338]);
  assert.equal(readdirSync(workdir).sort(), ['input.txt', 'out', 'result.txt']);
}
