// `vmbatch install-hooks slurm`: the wrappers slurmd's plugin runs, the plugin's plugstack.conf
// line among the site's other plugins, the slurm.conf lines it needs; idempotent; a missing
// plugin, a foreign wrapper, misplaced options and paths that would break the quoting refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cliPath } from '../helpers/image-cache.js';

let root: string;
let prefix: string;
let plugstack: string;
let plugin: string;
const config = '/etc/vmbatch/site.json';

test.before.each(() => {
  root = mkdtempSync(join(tmpdir(), 'vmbatch-install-slurm-'));
  prefix = join(root, 'libexec', 'vmbatch');
  plugstack = join(root, 'plugstack.conf');
  plugin = join(root, 'vmbatch.so');
  writeFileSync(plugin, 'not really a plugin');
});
test.after.each(() => rmSync(root, { recursive: true, force: true }));

const install = (...extra: string[]) =>
  execa(process.execPath, [cliPath, 'install-hooks', 'slurm', '--prefix', prefix, '--plugstack', plugstack, '--plugin', plugin, '--config', config, ...extra], { reject: false });
const confLines = (file: string) => [
  'slurm.conf must have (every node and the controller; restart slurmctld and slurmd after changing it):',
  `  PlugStackConfig=${file}`,
  '  PrologFlags=Alloc',
  '  PrologEpilogTimeout=300',
  '  BatchStartTimeout=300',
  '  LaunchParameters=use_interactive_step',
];

test('a fresh node: both wrappers (root, 0755), the plugin line added to the site plugstack.conf, the slurm.conf lines', async () => {
  writeFileSync(plugstack, 'optional /usr/lib/x86_64-linux-gnu/slurm-wlm/site.so\n');
  const run = await install();
  assert.is(run.exitCode, 0, run.stderr);
  const line = `required ${plugin} prefix=${prefix}`;
  assert.is(
    run.stdout,
    [
      `installed ${prefix}/slurm-hook: root:root 0755`,
      `installed ${prefix}/slurm-task: root:root 0755`,
      `updated ${plugstack} (${line}): it held another version`,
      'slurmd loads plugstack.conf only when it starts: restart slurmd',
      ...confLines(plugstack),
    ].join('\n'),
  );
  assert.is(readFileSync(plugstack, 'utf8'), `optional /usr/lib/x86_64-linux-gnu/slurm-wlm/site.so\n${line}\n`);
  assert.is(lstatSync(join(prefix, 'slurm-task')).mode & 0o7777, 0o755);
  const task = readFileSync(join(prefix, 'slurm-task'), 'utf8');
  assert.match(task, `VMBATCH_CONFIG='${config}'`);
  assert.match(task, `main='${cliPath}'`);
  assert.match(task, `exec '${process.execPath}' "$main" slurm-task "$@"`);
  assert.match(readFileSync(join(prefix, 'slurm-hook'), 'utf8'), `exec '${process.execPath}' "$main" "$@"`);

  const again = await install();
  assert.is(again.stdout, [`unchanged ${prefix}/slurm-hook`, `unchanged ${prefix}/slurm-task`, `unchanged ${plugstack} (${line})`, ...confLines(plugstack)].join('\n'));
});

test('an earlier vmbatch.so line is replaced in place, never doubled', async () => {
  writeFileSync(plugstack, '# site plugins\nrequired /old/vmbatch.so prefix=/old\noptional /x/site.so\n');
  const run = await install();
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(readFileSync(plugstack, 'utf8'), `# site plugins\nrequired ${plugin} prefix=${prefix}\noptional /x/site.so\n`);
});

test('no plugin: SLURM_PLUGIN_MISSING, nothing written', async () => {
  rmSync(plugin);
  const run = await install();
  assert.is(run.exitCode, 1);
  assert.is(
    run.stderr,
    `vmbatch: SLURM_PLUGIN_MISSING: the vmbatch SPANK plugin ${plugin} does not exist: slurmd would run jobs on the node itself\n` +
      '  hint: install the vmbatch-slurm package (make deb builds it beside vmbatch), or build the plugin from a checkout (make install-slurm); --plugin FILE names it where it is',
  );
  assert.not.ok(existsSync(prefix));
  assert.not.ok(existsSync(plugstack));
});

test("a wrapper that is not vmbatch's is refused; --force keeps it beside", async () => {
  await install();
  writeFileSync(join(prefix, 'slurm-task'), '#!/bin/sh\nexec "$@"\n');
  const run = await install();
  assert.is(run.exitCode, 1);
  assert.match(run.stderr, `  - refused ${prefix}/slurm-task: not vmbatch's: it begins "#!/bin/sh"\n`);
  assert.is(readFileSync(join(prefix, 'slurm-task'), 'utf8'), '#!/bin/sh\nexec "$@"\n');
  const forced = await install('--force');
  assert.is(forced.exitCode, 0, forced.stderr);
  assert.is(readFileSync(join(prefix, 'slurm-task.vmbatch-saved'), 'utf8'), '#!/bin/sh\nexec "$@"\n');
});

test("bad input: Torque's options for Slurm, a prefix with a blank (the plugin splits its arguments on blanks)", async () => {
  const misplaced = await install('--mom-priv', '/var/spool/torque/mom_priv');
  assert.is(misplaced.exitCode, 1);
  assert.match(misplaced.stderr, 'vmbatch: USAGE_INVALID: the command line is invalid:\n  - --mom-priv is an option of install-hooks torque');
  const blank = await execa(process.execPath, [cliPath, 'install-hooks', 'slurm', '--prefix', '/opt/my vmbatch', '--plugstack', plugstack, '--plugin', plugin], { reject: false });
  assert.is(blank.exitCode, 1);
  assert.match(blank.stderr, '  - --prefix "/opt/my vmbatch": must be an absolute path without quotes, backslashes or blanks');
  assert.not.ok(existsSync(plugstack));
});

test.run();
