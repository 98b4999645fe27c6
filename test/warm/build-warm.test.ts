// What a build killed half-way leaves is swept by the next build: only what a process that is
// gone left (a live build's directory stays), and nothing else in the warm directory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepDeadBuilds } from '../../src/warm/build-warm.js';

test('dead builds, replacements and drops are removed; live ones, entries and locks stay', () => {
  const root = mkdtempSync(join(tmpdir(), 'vmbatch-sweep-'));
  // a pid no process has (above the kernel's pid_max default of 4194304)
  const dead = 4194399;
  const live = process.pid;
  const names = [
    `.build-${dead}-0a1b2c3d`,
    `.build-${live}-0a1b2c3d`,
    `0123456789abcdef.old-${dead}`,
    `0123456789abcdef.old-${live}`,
    `.drop-0123456789abcdef-${dead}`,
    '0123456789abcdef',
    '.0123456789abcdef.lock',
  ];
  for (const name of names) mkdirSync(join(root, name));
  sweepDeadBuilds(root);
  assert.equal(readdirSync(root).sort(), [`.build-${live}-0a1b2c3d`, '.0123456789abcdef.lock', '0123456789abcdef', `0123456789abcdef.old-${live}`].sort());
  rmSync(root, { recursive: true, force: true });
});

test.run();
