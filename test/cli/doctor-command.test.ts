// `vmbatch doctor` as the built CLI: an invalid configuration (exit 1, the config line and the
// checks that need it not run), --json, bad usage (USAGE_INVALID, exit 2) and --help. No
// libvirtd: the libvirt and leftovers checks need the configuration and are not run here
// (the all-ok run on the real node is test/e2e/doctor.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { doctorUsage } from '../../src/cli/doctor-command.js';
import { cliPath } from '../helpers/image-cache.js';

const configNeeders = ['libvirt', 'virtiofsd', 'templates', 'warm', 'space', 'permissions', 'catalogue', 'leftovers', 'torque', 'slurm'];
const notChecked = 'not checked: the configuration did not load';
const notCheckedHint = 'fix the configuration (the config line), then run `vmbatch doctor` again';

function scratchConfig(content: unknown): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-doctor-cli-'));
  const file = join(dir, 'vmbatch.json');
  writeFileSync(file, JSON.stringify(content));
  return { dir, file };
}
const doctor = (config: string, ...args: string[]) => execa(process.execPath, [cliPath, 'doctor', ...args], { env: { VMBATCH_CONFIG: config }, reject: false });

test('an invalid configuration: exit 1, the config line with the catalogue text, the checks that need it not run', async () => {
  const { dir, file } = scratchConfig({ stateDir: 5 });
  try {
    const run = await doctor(file);
    assert.is(run.exitCode, 1, run.stderr);
    assert.is(run.stderr, '');
    const lines = run.stdout.split('\n');
    assert.equal(lines.slice(0, 5), [
      `fail config: CONFIG_INVALID: the vmbatch configuration ${file} is invalid:`,
      '       - stateDir: Expected string, received number',
      '     hint: fix each setting listed; docs/admin.md lists every setting with its type and default',
      `warn libvirt: ${notChecked}`,
      `     hint: ${notCheckedHint}`,
    ]);
    for (const check of configNeeders) assert.ok(run.stdout.includes(`warn ${check}: ${notChecked}\n     hint: ${notCheckedHint}\n`), check);
    const { stdout: qemuImg } = await execa('qemu-img', ['--version']);
    assert.ok(lines.includes(`ok   qemu-img: version ${/version (\S+)/.exec(qemuImg)?.[1]}`));
    assert.match(lines.at(-1)!, /^\d+ ok, \d+ warn, 1 fail$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--json: the same results as an array of {check, status, message, hint?}, same exit code', async () => {
  const { dir, file } = scratchConfig({ stateDir: 5 });
  try {
    const run = await doctor(file, '--json');
    assert.is(run.exitCode, 1, run.stderr);
    const results = JSON.parse(run.stdout) as { check: string; status: string; message: string; hint?: string }[];
    assert.equal(results[0], {
      check: 'config',
      status: 'fail',
      message: `CONFIG_INVALID: the vmbatch configuration ${file} is invalid:\n  - stateDir: Expected string, received number`,
      hint: 'fix each setting listed; docs/admin.md lists every setting with its type and default',
    });
    assert.equal(
      results.filter((r) => r.message === notChecked).map((r) => r.check),
      configNeeders,
    );
    assert.equal(
      results.map((r) => r.check).filter((c) => !configNeeders.includes(c)),
      ['config', 'kvm', 'virtlogd', 'qemu-img', 'genisoimage', 'flock', 'getent', 'ssh-keygen'],
    );
    for (const r of results) assert.is(r.hint !== undefined, r.status !== 'ok', `${r.check}: a hint with every warn and fail, none with ok`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown option or an argument: USAGE_INVALID on stderr, exit 2; --help prints the usage', async () => {
  const unknown = await doctor('/nonexistent/vmbatch.json', '--frobnicate');
  assert.is(unknown.exitCode, 2);
  assert.is(unknown.stdout, '');
  assert.is(unknown.stderr, "vmbatch: USAGE_INVALID: the command line is invalid:\n  - Unknown option '--frobnicate'\n  hint: `vmbatch --help` lists the commands and their options");
  const argument = await doctor('/nonexistent/vmbatch.json', 'now');
  assert.is(argument.exitCode, 2);
  assert.is(
    argument.stderr,
    "vmbatch: USAGE_INVALID: the command line is invalid:\n  - Unexpected argument 'now'. This command does not take positional arguments\n  hint: `vmbatch --help` lists the commands and their options",
  );
  const help = await doctor('/nonexistent/vmbatch.json', '--help');
  assert.is(help.exitCode, 0);
  assert.is(help.stdout, `usage:\n${doctorUsage}`.trimEnd());
});

test('vmbatch --help lists doctor under "For site admins"', async () => {
  const run = await execa(process.execPath, [cliPath, '--help'], { reject: false });
  assert.match(run.stdout, 'For site admins:\n');
  assert.match(
    run.stdout,
    '  doctor [--json]              is this node ready for jobs? one line per check (ok, warn, fail);\n                               exit 0 when nothing fails, 1 when a check fails\n',
  );
});

test.run();
