import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The repository root (tests run from dist/test/...). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The shipped domain templates. */
export const domainsDir = join(repoRoot, 'domains');

/** The test guest's directory (scripts/build-test-guest.sh DIR); VMBATCH_TEST_GUEST runs the suite against one built elsewhere. */
export const testGuestDir = process.env.VMBATCH_TEST_GUEST || '/var/lib/vmbatch/guest';

/**
 * The vmbatch the tests drive: the checkout's build, or with VMBATCH_UNDER_TEST=package the
 * installed Debian package (/usr/lib/vmbatch, as CI tests it): its command-line entry file and
 * the tree that holds it.
 */
export const underTest = process.env.VMBATCH_UNDER_TEST === 'package' ? { kind: 'package' as const, tree: '/usr/lib/vmbatch' } : { kind: 'checkout' as const, tree: repoRoot };

/** The entry file `node FILE COMMAND` runs in a tree of the kind under test. */
export const mainIn = (tree: string) => (underTest.kind === 'package' ? join(tree, 'vmbatch.mjs') : join(tree, 'dist', 'src', 'cli', 'main.js'));

/** The file one command's code is loaded from in such a tree (e.g. 'hooks/remoteshell'). */
export const commandModuleIn = (tree: string, module: string) => (underTest.kind === 'package' ? join(tree, `${module.replaceAll('/', '-')}.cjs`) : join(tree, 'dist', 'src', `${module}.js`));

/** The parts of the tree under test that a copy must hold. */
export const treeParts = underTest.kind === 'package' ? ['.'] : ['package.json', 'dist', 'node_modules', 'torque-hooks'];
