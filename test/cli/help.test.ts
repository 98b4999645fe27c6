// `vmbatch catalogue --help` and `vmbatch images --help` print their usage on stdout and exit 0,
// without a configuration (a node not set up yet); an unknown subcommand still fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { catalogueUsage } from '../../src/cli/catalogue-usage.js';
import { imagesUsage } from '../../src/cli/images-usage.js';
import { cliPath } from '../helpers/image-cache.js';

const vmbatch = (...args: string[]) => execa(process.execPath, [cliPath, ...args], { env: { VMBATCH_CONFIG: '/nonexistent/vmbatch.json' }, reject: false });

test('vmbatch catalogue --help and images --help (and -h, help) print their usage with exit 0', async () => {
  for (const [command, usage] of [
    ['catalogue', catalogueUsage],
    ['images', imagesUsage],
  ] as const) {
    for (const flag of ['--help', '-h', 'help']) {
      const run = await vmbatch(command, flag);
      assert.is(run.exitCode, 0, `${command} ${flag}: ${run.stderr}`);
      assert.is(run.stdout, `usage:\n${usage}`.trimEnd());
      assert.is(run.stderr, '');
    }
  }
  assert.match((await vmbatch('images', '--help')).stdout, 'images fetch SOURCE [--hash ALGO:HEX] [--format FMT]');
  assert.match((await vmbatch('catalogue', '--help')).stdout, 'catalogue resolve RTE... [--base NAME] [--domain TEMPLATE] [--json]');
});

test('an unknown subcommand prints the usage on stderr and fails', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-help-'));
  const config = join(dir, 'vmbatch.json');
  writeFileSync(config, JSON.stringify({ stateDir: join(dir, 'state'), logFile: join(dir, 'log') }));
  const vmbatch = (...args: string[]) => execa(process.execPath, [cliPath, ...args], { env: { VMBATCH_CONFIG: config }, reject: false });
  const images = await vmbatch('images', 'frobnicate');
  assert.is(images.exitCode, 1);
  assert.is(images.stderr, `vmbatch: unknown images command 'frobnicate'\nusage:\n${imagesUsage}`.trimEnd());
  const catalogue = await vmbatch('catalogue', 'frobnicate');
  assert.is(catalogue.exitCode, 2);
  assert.is(catalogue.stderr, `vmbatch: unknown catalogue command 'frobnicate'\nusage:\n${catalogueUsage}`.trimEnd());
  rmSync(dir, { recursive: true, force: true });
});

test.run();
