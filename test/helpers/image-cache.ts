import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';
import type { CacheContext } from '../../src/images/cache-context.js';
import type { ImageSource } from '../../src/images/image-source.js';
import { createLogger } from '../../src/log/logger.js';
import { mainIn, underTest } from './paths.js';

/** The CLI under test: the checkout's dist/src/cli/main.js, or the installed package's (helpers/paths.ts). */
export const cliPath = mainIn(underTest.tree);

/** A scratch node: state dir with its cache, a config file for CLI runs, a job dir for use records. */
export interface CacheScratch {
  root: string;
  stateDir: string;
  cacheDir: string;
  configFile: string;
  ctx(jobId: string, overrides?: Partial<CacheContext>): CacheContext;
}

/** Makes a scratch node below /tmp (or `root` when given, e.g. a small tmpfs). */
export function cacheScratch(config: Record<string, unknown> = {}, root = mkdtempSync(join(tmpdir(), 'vmbatch-cache-'))): CacheScratch {
  const stateDir = join(root, 'state');
  const cacheDir = join(stateDir, 'cache');
  const configFile = join(root, 'vmbatch.json');
  writeFileSync(configFile, JSON.stringify({ stateDir, logFile: join(root, 'log'), ...config }));
  return {
    root,
    stateDir,
    cacheDir,
    configFile,
    ctx: (jobId, overrides = {}) => ({
      cacheDir,
      jobRef: `testhost--${jobId}`,
      deadline: Date.now() + 30_000,
      stallTimeoutMs: 5000,
      maxRedirects: 5,
      createOnceWaitMs: 0,
      usesFile: join(root, `${jobId}.uses`),
      guestGid: guestsGid(),
      log: createLogger(undefined, 'test'),
      ...overrides,
    }),
  };
}

/** A template-origin image source. */
export function templateSource(url: string, hash?: ImageSource['hash']): ImageSource {
  return { url, hash, origin: 'template', maxBytes: undefined, allowedPrefixes: undefined };
}

/** Runs `vmbatch images ...` as a real process with the scratch node's configuration. */
export function runImagesCli(scratch: CacheScratch, args: string[]) {
  return execa(process.execPath, [cliPath, 'images', ...args], { env: { VMBATCH_CONFIG: scratch.configFile }, reject: false });
}

// the gid of guestIdentity.group's default, as the prologue resolves it for its plan
function guestsGid(): number {
  return Number(execaSync('getent', ['group', 'libvirt-qemu']).stdout.split(':')[2]);
}
