// `vmbatch install-hooks torque`: what it writes (owner, mode, content), that it is idempotent and
// says what it changed, and that it refuses what is not vmbatch's: a site's own hook, a
// $job_starter of another program, a symlink planted where a hook goes, paths that would break
// out of the shims' quoting. Runs the command line under test as root, as an admin would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cliPath } from '../helpers/image-cache.js';
import { pelogPermissionProblem } from '../torque/pbs-mom.js';

let root: string;
let momPriv: string;
let starter: string;
const config = '/etc/vmbatch/site.json';

test.before.each(() => {
  root = mkdtempSync(join(tmpdir(), 'vmbatch-install-'));
  momPriv = join(root, 'mom_priv');
  mkdirSync(momPriv, { mode: 0o751 });
  starter = join(root, 'sbin', 'vmbatch-remoteshell');
});
test.after.each(() => rmSync(root, { recursive: true, force: true }));

const install = (...extra: string[]) => execa(process.execPath, [cliPath, 'install-hooks', 'torque', '--mom-priv', momPriv, '--starter', starter, '--config', config, ...extra], { reject: false });
const modeOf = (path: string) => `${lstatSync(path).uid}:${lstatSync(path).gid} ${(lstatSync(path).mode & 0o7777).toString(8)}`;

test('a fresh node: both hooks as pbs_mom demands, the $job_starter shim, its config line; the shims run the vmbatch under test', async () => {
  const run = await install();
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(
    run.stdout,
    [
      `installed ${momPriv}/prologue: root:root 0500`,
      `installed ${momPriv}/epilogue: root:root 0500`,
      `installed ${starter}: root:root 0755`,
      `installed ${momPriv}/config ($job_starter ${starter}): root:root 0644`,
      'pbs_mom reads $job_starter only when it starts: restart pbs_mom',
    ].join('\n'),
  );
  assert.is(run.stderr, '');
  for (const hook of ['prologue', 'epilogue']) assert.is(pelogPermissionProblem(join(momPriv, hook)), undefined);
  assert.is(modeOf(join(momPriv, 'prologue')), '0:0 500');
  assert.is(modeOf(starter), '0:0 755');
  assert.is(readFileSync(join(momPriv, 'config'), 'utf8'), `$job_starter ${starter}\n`);
  const prologue = readFileSync(join(momPriv, 'prologue'), 'utf8');
  assert.match(prologue, `VMBATCH_CONFIG='${config}'`);
  assert.match(prologue, `main='${cliPath}'`);
  assert.match(prologue, `exec '${process.execPath}' "$main" prologue "$@"`);
  assert.match(readFileSync(starter, 'utf8'), `exec '${process.execPath}' "$main" remoteshell "$@"`);
});

test('a second run changes nothing and says so; a hook whose mode drifted is fixed; another vmbatch version is updated', async () => {
  await install();
  const again = await install();
  assert.is(again.exitCode, 0, again.stderr);
  assert.is(again.stdout, [`unchanged ${momPriv}/prologue`, `unchanged ${momPriv}/epilogue`, `unchanged ${starter}`, `unchanged ${momPriv}/config ($job_starter ${starter})`].join('\n'));
  chmodSync(join(momPriv, 'epilogue'), 0o775);
  writeFileSync(join(momPriv, 'prologue'), readFileSync(join(momPriv, 'prologue'), 'utf8').replace("main='", "main='/old"));
  const fixed = await install();
  assert.is(
    fixed.stdout,
    [
      `updated ${momPriv}/prologue: it held another version`,
      `fixed ${momPriv}/epilogue: root:root 0500, it was 0:0 0775`,
      `unchanged ${starter}`,
      `unchanged ${momPriv}/config ($job_starter ${starter})`,
    ].join('\n'),
  );
  assert.is(pelogPermissionProblem(join(momPriv, 'epilogue')), undefined);
});

test("an existing config keeps its other lines; vmbatch's own $job_starter elsewhere is moved, not duplicated", async () => {
  const old = join(root, 'old', 'vmbatch-remoteshell');
  await execa(process.execPath, [cliPath, 'install-hooks', 'torque', '--mom-priv', momPriv, '--starter', old, '--config', config]);
  writeFileSync(join(momPriv, 'config'), `$pbsserver head\n$job_starter ${old}\n$usecp *:/home /home\n`);
  const run = await install();
  assert.is(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, `updated ${momPriv}/config ($job_starter ${starter}): it held another version`);
  assert.is(readFileSync(join(momPriv, 'config'), 'utf8'), `$pbsserver head\n$job_starter ${starter}\n$usecp *:/home /home\n`);
});

test("a site's own hook and a foreign $job_starter are refused with nothing changed; --force replaces them and keeps the old files", async () => {
  writeFileSync(join(momPriv, 'prologue'), '#!/bin/sh\n/usr/local/sbin/site-prologue "$@"\n', { mode: 0o500 });
  writeFileSync(join(momPriv, 'config'), '$pbsserver head\n$job_starter /opt/site/starter\n');
  const run = await install();
  assert.is(run.exitCode, 1);
  assert.is(run.stdout, '');
  assert.is(
    run.stderr,
    "vmbatch: INSTALL_REFUSED: install-hooks changed nothing: these files are not vmbatch's to replace:\n" +
      `  - refused ${momPriv}/prologue: not vmbatch's: it begins "#!/bin/sh"\n` +
      `  - refused ${momPriv}/config ($job_starter ${starter}): its $job_starter line names /opt/site/starter, which is not vmbatch's remoteshell\n` +
      "  hint: look at each: move it away or merge what it does into the site's own setup, then run install-hooks again; --force replaces them and keeps each old file beside it as NAME.vmbatch-saved",
  );
  assert.equal(readdirSync(momPriv).sort(), ['config', 'prologue']);
  assert.not.ok(existsSync(starter));
  const forced = await install('--force');
  assert.is(forced.exitCode, 0, forced.stderr);
  assert.match(forced.stdout, `replaced ${momPriv}/prologue: the file that was there is kept as ${momPriv}/prologue.vmbatch-saved`);
  assert.is(readFileSync(join(momPriv, 'prologue.vmbatch-saved'), 'utf8'), '#!/bin/sh\n/usr/local/sbin/site-prologue "$@"\n');
  assert.is(readFileSync(join(momPriv, 'config.vmbatch-saved'), 'utf8'), '$pbsserver head\n$job_starter /opt/site/starter\n');
  assert.is(readFileSync(join(momPriv, 'config'), 'utf8'), `$pbsserver head\n$job_starter ${starter}\n`);
  // a second forced run never overwrites the only copy of the site's hook
  writeFileSync(join(momPriv, 'prologue'), '#!/bin/sh\necho second site hook\n', { mode: 0o500 });
  await install('--force');
  assert.is(readFileSync(join(momPriv, 'prologue.vmbatch-saved'), 'utf8'), '#!/bin/sh\n/usr/local/sbin/site-prologue "$@"\n');
  assert.is(readFileSync(join(momPriv, 'prologue.vmbatch-saved.1'), 'utf8'), '#!/bin/sh\necho second site hook\n');
});

test('a symlink planted where a hook goes is refused, never followed: its target stays as it was', async () => {
  const target = join(root, 'victim');
  writeFileSync(target, 'precious\n', { mode: 0o644 });
  chownSync(target, 31339, 31340);
  symlinkSync(target, join(momPriv, 'epilogue'));
  const run = await install();
  assert.is(run.exitCode, 1);
  assert.match(run.stderr, `  - refused ${momPriv}/epilogue: a symbolic link\n`);
  const forced = await install('--force');
  assert.is(forced.exitCode, 0, forced.stderr);
  assert.is(readFileSync(target, 'utf8'), 'precious\n');
  assert.is(modeOf(target), '31339:31340 644');
  assert.ok(lstatSync(join(momPriv, 'epilogue')).isFile());
  assert.ok(lstatSync(join(momPriv, 'epilogue.vmbatch-saved')).isSymbolicLink());
});

test('--dry-run prints what it would do and changes nothing', async () => {
  const run = await install('--dry-run');
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout.split('\n')[0], `would install ${momPriv}/prologue: root:root 0500`);
  assert.equal(readdirSync(momPriv), []);
  assert.not.ok(existsSync(join(root, 'sbin')));
});

test('bad input: a missing mom_priv, a path that would break out of the quoting, an unknown batch system, an unknown option', async () => {
  rmSync(momPriv, { recursive: true });
  const missing = await install();
  assert.is(missing.exitCode, 1);
  assert.is(
    missing.stderr,
    `vmbatch: INSTALL_TARGET_MISSING: ${momPriv} is not a directory, so it cannot be given Torque's hooks\n  hint: name the right directory with --mom-priv DIR, or create it first`,
  );
  mkdirSync(momPriv);
  const quoted = await execa(process.execPath, [cliPath, 'install-hooks', 'torque', '--mom-priv', momPriv, '--starter', starter, '--config', "/etc/x'; rm -rf /; '"], { reject: false });
  assert.is(quoted.exitCode, 1);
  assert.match(quoted.stderr, `vmbatch: USAGE_INVALID: the command line is invalid:\n  - --config "/etc/x'; rm -rf /; '": must be an absolute path without quotes, backslashes or newlines`);
  assert.equal(readdirSync(momPriv), []);
  const other = await execa(process.execPath, [cliPath, 'install-hooks', 'pbspro'], { reject: false });
  assert.is(other.exitCode, 1);
  assert.match(other.stderr, "vmbatch: USAGE_INVALID: the command line is invalid:\n  - install-hooks takes the batch system: torque or slurm (got 'pbspro')");
  const option = await install('--frobnicate');
  assert.is(option.exitCode, 1);
  assert.match(option.stderr, "Unknown option '--frobnicate'");
});

test.run();
